package tests

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/godbus/dbus/v5"
	"golang.org/x/sys/unix"

	"github.com/porthole-dev/porthole/internal/testenv"
)

// TestDocumentPortalAPI drives every Documents method as a host caller of
// the user's session (the helper process), and checks the views.
func TestDocumentPortalAPI(t *testing.T) {
	testenv.ForEachUser(t, func(t *testing.T, u testenv.User) {
		e := docpSetup(t, u)
		var v dbus.Variant
		if err := e.obj().Call("org.freedesktop.DBus.Properties.Get", 0, docpIface, "version").Store(&v); err != nil || v.Value() != uint32(5) {
			t.Errorf("Documents version = %v, %v, want 5", v, err)
		}
		if err := e.obj().Call("org.freedesktop.DBus.Properties.Get", 0, docpFT, "version").Store(&v); err != nil || v.Value() != uint32(1) {
			t.Errorf("FileTransfer version = %v, %v, want 1", v, err)
		}

		a := e.file(t, "a.txt", "content of a")
		other := e.file(t, "other", "x")
		r := e.run(t, nil,
			docpOp{Op: "add", Path: a, Flags: 1},
			docpOp{Op: "add", Path: a, Flags: 1},
			docpOp{Op: "add", Path: a, Flags: 0},
			docpOp{Op: "lookup", Path: a},
			docpOp{Op: "lookup", Path: other},
			docpOp{Op: "lookup", Path: "/nonexistent"},
		)
		id := r[0].Out
		if id == "" || r[0].Err != "" {
			t.Fatalf("Add = %+v", r[0])
		}
		if r[1].Out != id {
			t.Errorf("reuse-existing Add = %q, want %q", r[1].Out, id)
		}
		if r[2].Out == id || r[2].Out == "" {
			t.Errorf("unique Add = %q, want a new id", r[2].Out)
		}
		if r[3].Out != id {
			t.Errorf("Lookup(%s) = %q, want %q", a, r[3].Out, id)
		}
		if r[4].Out != "" || r[4].Err != "" {
			t.Errorf("Lookup(unexported) = %+v, want \"\"", r[4])
		}
		if r[5].Err != docpNotFound {
			t.Errorf("Lookup(missing file) = %+v, want NotFound", r[5])
		}
		appA := filepath.Join(e.mount, "by-app", "org.example.A")
		appB := filepath.Join(e.mount, "by-app", "org.example.B")
		r = e.run(t, nil,
			docpOp{Op: "lookup", Path: filepath.Join(e.mount, id, "a.txt")},
			docpOp{Op: "grant", ID: id, App: "org.example.A", Perms: []string{"read"}},
			docpOp{Op: "info", ID: id},
			docpOp{Op: "list", App: "org.example.A"},
			docpOp{Op: "read", Path: filepath.Join(appA, id, "a.txt")},
			docpOp{Op: "stat", Path: filepath.Join(appB, id)},
			docpOp{Op: "open-write", Path: filepath.Join(appA, id, "a.txt")},
			docpOp{Op: "ls", Path: filepath.Join(e.mount, "by-app")},
			docpOp{Op: "hostpaths", Perms: []string{id, "nosuchdoc"}},
		)
		if r[0].Out != id {
			t.Errorf("Lookup(on the mount) = %+v, want %q", r[0], id)
		}
		if r[2].Out != a+" org.example.A=read" {
			t.Errorf("Info = %+v", r[2])
		}
		if r[3].Out != id {
			t.Errorf("List(org.example.A) = %+v, want just %s", r[3], id)
		}
		if r[4].Errno != 0 || r[4].Out != "content of a" {
			t.Errorf("app A reads %+v", r[4])
		}
		if r[5].Errno != int(syscall.ENOENT) {
			t.Errorf("app B stats A's document: %+v, want ENOENT", r[5])
		}
		if r[6].Errno != int(syscall.EACCES) {
			t.Errorf("app A opens for writing without write: %+v, want EACCES", r[6])
		}
		if !strings.Contains(r[7].Out, "org.example.A") {
			t.Errorf("by-app lists %q", r[7].Out)
		}
		if r[8].Out != id+"="+a {
			t.Errorf("GetHostPaths = %+v", r[8])
		}

		r = e.run(t, nil,
			docpOp{Op: "grant", ID: id, App: "not-an-app", Perms: []string{"read"}},
			docpOp{Op: "grant", ID: id, App: "org.example.A", Perms: []string{"fly"}},
			docpOp{Op: "grant", ID: "nosuchdoc", App: "org.example.A", Perms: []string{"read"}},
			docpOp{Op: "revoke", ID: "nosuchdoc", App: "org.example.A", Perms: []string{"read"}},
			docpOp{Op: "delete", ID: "nosuchdoc"},
			docpOp{Op: "info", ID: "nosuchdoc"},
			docpOp{Op: "addfull", Path: a, Flags: 16},
			docpOp{Op: "addnamedfull", Path: e.files, Data: "a/b"},
			docpOp{Op: "addnamedfull", Path: e.files, Data: ""},
			docpOp{Op: "addnamedfull", Path: e.files, Data: "dir", Flags: 8},
		)
		for i, want := range []string{docpInvalid, docpInvalid, docpNotFound, docpNotFound, docpNotFound, docpInvalid, docpInvalid, docpInvalid, docpInvalid, docpInvalid} {
			if r[i].Err != want {
				t.Errorf("bad call %d = %+v, want %s", i, r[i], want)
			}
		}

		r = e.run(t, nil,
			docpOp{Op: "revoke", ID: id, App: "org.example.A", Perms: []string{"read"}},
			docpOp{Op: "stat", Path: filepath.Join(appA, id)},
			docpOp{Op: "addnamed", Path: e.files, Data: "saved.txt"},
		)
		if r[1].Errno != int(syscall.ENOENT) {
			t.Errorf("after revoke, app A stats its document: %+v", r[1])
		}
		named := r[2].Out
		// The named file need not exist; writing through the document
		// creates it.
		if r := e.run(t, nil, docpOp{Op: "write", Path: filepath.Join(e.mount, named, "saved.txt"), Data: "saved"}); r[0].Errno != 0 {
			t.Errorf("writing a named document: %+v", r[0])
		}
		if b, _ := os.ReadFile(filepath.Join(e.files, "saved.txt")); string(b) != "saved" {
			t.Errorf("saved file = %q", b)
		}

		// Bad fds: a deleted file, a socket, a directory for a file.
		r = e.run(t, nil,
			docpOp{Op: "add", Path: e.file(t, "deleted", "x"), Mode: "deleted", Flags: 1},
			docpOp{Op: "add", Path: filepath.Join(e.files, "sock"), Mode: "socket", Flags: 1},
			docpOp{Op: "add", Path: e.files, Flags: 1},
			docpOp{Op: "addfull", Path: a, Mode: "rdonly", App: "org.example.A", Perms: []string{"read", "write"}},
		)
		for i := 0; i < 3; i++ {
			if r[i].Err != docpInvalid {
				t.Errorf("bad fd %d: %+v, want InvalidArgument", i, r[i])
			}
		}
		if u.IsRoot() {
			// Host callers may always write.
			if r[3].Err != "" {
				t.Errorf("AddFull(read-only fd, write) from the host = %+v", r[3])
			}
		} else {
			// A file the user may name but not read (O_PATH needs only
			// search permission on its directory) is refused.
			dir := testenv.SharedTempDir(t, testenv.Root())
			secret := filepath.Join(dir, "secret")
			os.WriteFile(secret, []byte("s"), 0o600)
			if r := e.run(t, nil, docpOp{Op: "add", Path: secret, Flags: 1}); r[0].Err != docpInvalid {
				t.Errorf("Add(file out of the user's reach) = %+v, want InvalidArgument", r[0])
			}
		}

		r = e.run(t, nil,
			docpOp{Op: "delete", ID: id},
			docpOp{Op: "delete", ID: id},
			docpOp{Op: "stat", Path: filepath.Join(e.mount, id)},
		)
		if r[0].Err != "" || r[1].Err != docpNotFound || r[2].Errno != int(syscall.ENOENT) {
			t.Errorf("Delete, Delete, stat = %+v", r)
		}
		if code := e.stopPortal(t); code != 0 {
			t.Errorf("exit status on SIGHUP = %d, want 0", code)
		}
		var sfs unix.Statfs_t
		if err := unix.Statfs(e.mount, &sfs); err == nil && sfs.Type == unix.FUSE_SUPER_MAGIC {
			t.Errorf("%s still mounted after SIGHUP", e.mount)
		}
	})
}

func TestDocumentPortalFileTransfer(t *testing.T) {
	testenv.ForEachUser(t, func(t *testing.T, u testenv.User) {
		e := docpSetup(t, u)
		f1, f2 := e.file(t, "one", "1"), e.file(t, "two", "2")
		// Keys are per sender: another connection's key and an unknown
		// one are refused.
		r := e.run(t, nil, docpOp{Op: "ft-start"})
		key := r[0].Out
		r = e.run(t, nil,
			docpOp{Op: "ft-add", ID: "1234", Path: f1},
			docpOp{Op: "ft-add", ID: key, Path: f1},
			docpOp{Op: "ft-start"},
		)
		for i := 0; i < 2; i++ {
			if r[i].Err != "org.freedesktop.DBus.Error.AccessDenied" {
				t.Errorf("AddFiles %d = %+v, want AccessDenied", i, r[i])
			}
		}
		r = e.run(t, nil,
			docpOp{Op: "ft-start"},
			docpOp{Op: "ft-stop", ID: "1234"},
		)
		if r[1].Err != "org.freedesktop.DBus.Error.AccessDenied" {
			t.Errorf("StopTransfer(unknown) = %+v, want AccessDenied", r[1])
		}
		// One sender: start, add, retrieve (host: paths as is), closed.
		tr := e.runTransfer(t, f1, e.files, f2)
		if tr.files != strings.Join([]string{f1, e.files, f2}, " ") {
			t.Errorf("RetrieveFiles (host) = %q", tr.files)
		}
		if tr.closed != tr.key {
			t.Errorf("TransferClosed(%q), want key %q", tr.closed, tr.key)
		}
		if tr.afterStop != "org.freedesktop.DBus.Error.AccessDenied" {
			t.Errorf("RetrieveFiles after autostop = %q, want AccessDenied", tr.afterStop)
		}
	})
}

type docpTransfer struct{ key, files, closed, afterStop string }

// runTransfer starts a transfer in one helper, adds paths, retrieves them
// (as the same host app), and waits for TransferClosed.
func (e *docpEnv) runTransfer(t *testing.T, paths ...string) docpTransfer {
	t.Helper()
	r := e.run(t, nil,
		docpOp{Op: "ft-watch"},
		docpOp{Op: "ft-transfer", Path: strings.Join(paths, " ")},
		docpOp{Op: "ft-closed"},
	)
	parts := strings.SplitN(r[1].Out, "\n", 3)
	for len(parts) < 3 {
		parts = append(parts, "")
	}
	return docpTransfer{key: parts[0], files: parts[1], afterStop: parts[2], closed: r[2].Out}
}

// TestDocumentPortalHostChanges: reads through a document see what the
// host wrote: a same-size rewrite at the next open, a longer file even
// through a file kept open (once stat refreshed its size). As root reads
// pass through to the real file; as the user the portal serves them and
// the kernel caches pages.
func TestDocumentPortalHostChanges(t *testing.T) {
	testenv.ForEachUser(t, func(t *testing.T, u testenv.User) {
		e := docpSetup(t, u)
		h := e.file(t, "h.txt", "first")
		r := e.run(t, nil, docpOp{Op: "addfull", Path: h, Flags: 1, App: "org.example.A", Perms: []string{"read"}})
		id := r[0].Out
		if id == "" {
			t.Fatalf("AddFull = %+v", r[0])
		}
		doc := filepath.Join(e.mount, "by-app", "org.example.A", id, "h.txt")
		r = e.run(t, nil, docpOp{Op: "host-change", Path: doc, Path2: h, Data: "again"})
		if want := "first\nagain\nagain and more"; r[0].Errno != 0 || r[0].Out != want {
			t.Errorf("reads around host changes = %q (errno %d), want %q", r[0].Out, r[0].Errno, want)
		}
	})
}
