package testfuse

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// memRoot is a directory holding one file, "hello".
type memRoot struct{ fs.Inode }

var _ fs.NodeOnAdder = (*memRoot)(nil)

const content = "hello through the kernel\n"

func (r *memRoot) OnAdd(ctx context.Context) {
	file := r.NewPersistentInode(ctx, &fs.MemRegularFile{
		Data: []byte(content),
		Attr: fuse.Attr{Mode: 0o644},
	}, fs.StableAttr{Ino: 2})
	r.AddChild("hello", file, false)
}

// mounted reports whether mnt is a mount point, from /proc/self/mountinfo.
func mounted(t *testing.T, mnt string) bool {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[4] == mnt {
			return true
		}
	}
	return false
}

func TestMount(t *testing.T) {
	var mnt string
	t.Run("mounted", func(t *testing.T) {
		mnt = Mount(t, &memRoot{}, nil)
		if !mounted(t, mnt) {
			t.Fatalf("%s is not a mount point", mnt)
		}
		got, err := os.ReadFile(filepath.Join(mnt, "hello"))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != content {
			t.Errorf("ReadFile(hello) = %q, want %q", got, content)
		}
		entries, err := os.ReadDir(mnt)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 1 || entries[0].Name() != "hello" {
			t.Errorf("ReadDir = %v, want [hello]", entries)
		}
		if _, err := os.Stat(filepath.Join(mnt, "missing")); !os.IsNotExist(err) {
			t.Errorf("Stat(missing) = %v, want not exist", err)
		}
		var st syscall.Statfs_t
		if err := syscall.Statfs(mnt, &st); err != nil {
			t.Fatal(err)
		}
		const fuseSuperMagic = 0x65735546
		if st.Type != fuseSuperMagic {
			t.Errorf("Statfs(%s).Type = %#x, want FUSE", mnt, st.Type)
		}
	})
	if mnt == "" {
		return
	}
	if mounted(t, mnt) {
		t.Errorf("%s still mounted after the test ended", mnt)
	}
}

// TestBusyUnmount leaves a file open in the mount across teardown, so the
// plain unmount fails with EBUSY and the lazy one must take over.
func TestBusyUnmount(t *testing.T) {
	var mnt string
	var open *os.File
	t.Run("busy", func(t *testing.T) {
		mnt = Mount(t, &memRoot{}, nil)
		var err error
		open, err = os.Open(filepath.Join(mnt, "hello"))
		if err != nil {
			t.Fatal(err)
		}
	})
	if open != nil {
		defer open.Close()
	}
	if mnt == "" {
		return
	}
	if mounted(t, mnt) {
		t.Errorf("%s still mounted after the test ended", mnt)
	}
}
