package testfuse

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/porthole-dev/porthole/internal/testenv"
)

// Mount mounts root on a new directory under t.TempDir() and returns its
// path. The file system is unmounted when t ends. opts may be nil. It
// Requires /dev/fuse and fusermount3.
func Mount(t testing.TB, root fs.InodeEmbedder, opts *fs.Options) (mnt string) {
	t.Helper()
	testenv.RequireFUSE(t)
	mnt = t.TempDir()
	MountAt(t, mnt, root, opts)
	return mnt
}

// MountAt is Mount on an existing empty directory, for tests that need the
// mount point somewhere else (for example in a directory another uid can
// reach; see testenv.SharedTempDir and fuse.MountOptions.AllowOther).
func MountAt(t testing.TB, mnt string, root fs.InodeEmbedder, opts *fs.Options) {
	t.Helper()
	testenv.RequireFUSE(t)
	var o fs.Options
	if opts != nil {
		o = *opts
	}
	if o.FsName == "" {
		o.FsName = "porthole-test"
	}
	if o.Name == "" {
		o.Name = "porthole"
	}
	server, err := fs.Mount(mnt, root, &o)
	if err != nil {
		t.Fatalf("mounting FUSE file system on %s: %v", mnt, err)
	}
	t.Cleanup(func() {
		// Unmount retries a few times while the mount is busy.
		if err := server.Unmount(); err == nil {
			return
		}
		if err := lazyUnmount(mnt); err != nil {
			t.Errorf("unmounting %s: %v", mnt, err)
		}
	})
}

// lazyUnmount detaches a busy mount.
func lazyUnmount(mnt string) error {
	if os.Geteuid() == 0 {
		if err := syscall.Unmount(mnt, syscall.MNT_DETACH); err == nil {
			return nil
		}
	}
	out, err := exec.Command("fusermount3", "-u", "-z", mnt).CombinedOutput()
	if err != nil {
		return fmt.Errorf("fusermount3 -u -z: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}
