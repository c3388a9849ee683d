package tests

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/porthole-dev/porthole/internal/testbus"
	"github.com/porthole-dev/porthole/internal/testenv"
)

const psDocPortal = "/usr/libexec/xdg-document-portal"

// TestPermissionStoreWithDebianDocumentPortal runs Debian's
// xdg-document-portal on our store: it records a document and its grants
// through the store's API, and after a restart reads the "documents" table
// file we wrote directly, as upstream does.
func TestPermissionStoreWithDebianDocumentPortal(t *testing.T) {
	_, err := os.Stat(psDocPortal)
	testenv.Require(t, err == nil, "needs "+psDocPortal+" (Debian package xdg-desktop-portal)")
	testenv.Require(t, testenv.HaveFUSE(), "needs /dev/fuse and fusermount3")

	bus := testbus.New(t)
	home := t.TempDir()
	runtimeDir := filepath.Join(t.TempDir(), "run")
	if err := os.Mkdir(runtimeDir, 0o700); err != nil {
		t.Fatal(err)
	}
	psStart(t, bus, psBinary(t, "ours"), home)
	conn := bus.Conn(t)
	docs := conn.Object("org.freedesktop.portal.Documents", "/org/freedesktop/portal/documents")
	const docIface = "org.freedesktop.portal.Documents"

	file := filepath.Join(home, "report.txt")
	if err := os.WriteFile(file, []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	dp := psDocPortalStart(t, bus, home, runtimeDir)
	fd, err := unix.Open(file, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	var docID string
	err = docs.Call(docIface+".Add", 0, dbus.UnixFD(fd), true, true).Store(&docID)
	unix.Close(fd)
	if err != nil {
		t.Fatalf("Documents.Add: %v", err)
	}
	if err := docs.Call(docIface+".GrantPermissions", 0, docID, "org.example.App", []string{"read", "write"}).Err; err != nil {
		t.Fatalf("Documents.GrantPermissions: %v", err)
	}

	// What the document portal stored, seen through our store.
	e := psLookup(t, psObject(conn), "documents", docID)
	if !cmp.Equal(e.Perms, map[string][]string{"org.example.App": {"read", "write"}}) {
		t.Errorf("documents/%s permissions = %v", docID, e.Perms)
	}
	if e.Data.Signature().String() != "(ayttu)" {
		t.Errorf("documents/%s data = %v, want (ayttu)", docID, e.Data)
	}

	// A restarted document portal reads the table file we wrote. The
	// document portal does not wait for the store's replies, so our Lookup
	// can see a change the store is still writing: wait for the file.
	waitForFileContaining(t, filepath.Join(home, "flatpak", "db", "documents"), docID, "org.example.App")
	psDocPortalStop(t, dp, runtimeDir)
	dp = psDocPortalStart(t, bus, home, runtimeDir)
	var list map[string][]byte
	if err := docs.Call(docIface+".List", 0, "org.example.App").Store(&list); err != nil {
		t.Fatalf("Documents.List: %v", err)
	}
	if got, want := string(list[docID]), file+"\x00"; got != want {
		t.Errorf("Documents.List(org.example.App)[%s] = %q, want %q (all: %q)", docID, got, want, list)
	}
	psDocPortalStop(t, dp, runtimeDir)
}

func psDocPortalStart(t *testing.T, bus *testbus.Bus, home, runtimeDir string) *psProc {
	t.Helper()
	cmd := exec.Command(psDocPortal)
	cmd.Env = append(os.Environ(), bus.Env(), "XDG_DATA_HOME="+home, "HOME="+home, "XDG_RUNTIME_DIR="+runtimeDir)
	p := &psProc{cmd: cmd, done: make(chan struct{}), stderr: &psLog{}}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { psDocPortalStop(t, p, runtimeDir) })
	conn := bus.Conn(t)
	for {
		var has bool
		if err := conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, "org.freedesktop.portal.Documents").Store(&has); err != nil {
			t.Fatal(err)
		}
		if has {
			return p
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited: %v\n%s", psDocPortal, p.err, p.stderr)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// psDocPortalStop ends the document portal and makes sure its FUSE mount
// is gone.
func psDocPortalStop(t *testing.T, p *psProc, runtimeDir string) {
	select {
	case <-p.done:
	default:
		p.cmd.Process.Signal(syscall.SIGTERM)
		<-p.done
	}
	exec.Command("fusermount3", "-u", "-z", filepath.Join(runtimeDir, "doc")).Run()
}

// waitForFileContaining waits until path holds every needle.
func waitForFileContaining(t *testing.T, path string, needles ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(path)
		found := err == nil
		for _, n := range needles {
			found = found && bytes.Contains(b, []byte(n))
		}
		if found {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never held %q (last error: %v)", path, needles, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
