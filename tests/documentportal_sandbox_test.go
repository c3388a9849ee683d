package tests

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/porthole-dev/porthole/internal/testenv"
)

// TestDocumentPortalSandboxedCallers runs apps in bwrap sandboxes with a
// /.flatpak-info and their by-app view mounted at /run/flatpak/doc, as
// Flatpak (and porthole run) set them up: an app gets only what it was
// given, host-only methods are refused, grants need permissions.
func TestDocumentPortalSandboxedCallers(t *testing.T) {
	testenv.ForEachUser(t, func(t *testing.T, u testenv.User) {
		e := docpSetup(t, u)
		boxA := e.docpSandbox(t, "org.example.A")
		boxB := e.docpSandbox(t, "org.example.B")

		// The host gives app A one file; B sees nothing of it.
		secretOfA := e.file(t, "for-a.txt", "for A only")
		r := e.run(t, nil, docpOp{Op: "addfull", Path: secretOfA, Flags: 1, App: "org.example.A", Perms: []string{"read"}})
		hostDoc := r[0].Out
		r = e.run(t, boxB,
			docpOp{Op: "stat", Path: "/run/flatpak/doc/" + hostDoc},
			docpOp{Op: "ls", Path: "/run/flatpak/doc"},
			docpOp{Op: "read", Path: secretOfA}, // /tmp is shared in this test sandbox
		)
		if r[0].Errno != int(syscall.ENOENT) || strings.Contains(r[1].Out, hostDoc) {
			t.Errorf("app B sees app A's document: stat %+v, ls %+v", r[0], r[1])
		}
		r = e.run(t, boxA,
			docpOp{Op: "read", Path: "/run/flatpak/doc/" + hostDoc + "/for-a.txt"},
			docpOp{Op: "ls", Path: "/run/flatpak/doc"},
			docpOp{Op: "write", Path: "/run/flatpak/doc/" + hostDoc + "/for-a.txt", Data: "x"},
		)
		if r[0].Errno != 0 || r[0].Out != "for A only" || r[1].Out != hostDoc {
			t.Errorf("app A: read %+v, ls %+v", r[0], r[1])
		}
		if r[2].Errno != int(syscall.EACCES) {
			t.Errorf("app A writes a read-only document: %+v, want EACCES", r[2])
		}

		// App A exports a file it can write (read-write fd): it gets read,
		// write and grant-permissions (no delete: reuse-existing).
		own := e.file(t, "own.txt", "A's own")
		r = e.run(t, boxA,
			docpOp{Op: "add", Path: own, Mode: "rdwr", Flags: 1},
			docpOp{Op: "add", Path: e.file(t, "ro.txt", "ro"), Mode: "rdonly", Flags: 1},
		)
		ownDoc, roDoc := r[0].Out, r[1].Out
		if ownDoc == "" || roDoc == "" {
			t.Fatalf("sandboxed Add = %+v", r)
		}
		r = e.run(t, nil, docpOp{Op: "info", ID: ownDoc}, docpOp{Op: "info", ID: roDoc})
		if r[0].Out != own+" org.example.A=read,write,grant-permissions" {
			t.Errorf("Info of A's read-write export = %q", r[0].Out)
		}
		if !strings.HasSuffix(r[1].Out, " org.example.A=read,grant-permissions") {
			t.Errorf("Info of A's read-only export = %q", r[1].Out)
		}

		r = e.run(t, boxA,
			docpOp{Op: "lookup", Path: own},
			docpOp{Op: "info", ID: ownDoc},
			docpOp{Op: "list", App: ""},
			docpOp{Op: "addnamed", Path: e.files, Data: "new"},
			docpOp{Op: "grant", ID: ownDoc, App: "org.example.B", Perms: []string{"read", "delete"}},
			docpOp{Op: "grant", ID: hostDoc, App: "org.example.B", Perms: []string{"read"}},
			docpOp{Op: "revoke", ID: ownDoc, App: "org.example.A", Perms: []string{"write"}},
			docpOp{Op: "delete", ID: ownDoc},
			docpOp{Op: "addfull", Path: e.file(t, "ro2.txt", "ro"), Mode: "rdonly", App: "org.example.B", Perms: []string{"read", "write"}},
			docpOp{Op: "grant", ID: ownDoc, App: "org.example.B", Perms: []string{"read", "write"}},
			docpOp{Op: "hostpaths", Perms: []string{ownDoc, roDoc}},
		)
		for i := 0; i < 9; i++ {
			if r[i].Err != docpNotAllowed {
				t.Errorf("sandboxed call %d = %+v, want NotAllowed", i, r[i])
			}
		}
		if r[9].Err != "" {
			t.Errorf("A grants B read+write on its document: %+v", r[9])
		}
		if !strings.Contains(r[10].Out, ownDoc+"="+own) || !strings.Contains(r[10].Out, roDoc+"=") {
			t.Errorf("GetHostPaths from A = %q", r[10].Out)
		}

		// B now reads and writes A's document; host paths only for its own.
		r = e.run(t, boxB,
			docpOp{Op: "read", Path: "/run/flatpak/doc/" + ownDoc + "/own.txt"},
			docpOp{Op: "write", Path: "/run/flatpak/doc/" + ownDoc + "/own.txt", Data: "B was here"},
			docpOp{Op: "hostpaths", Perms: []string{ownDoc, hostDoc}},
			docpOp{Op: "rename", Path: "/run/flatpak/doc/" + ownDoc + "/own.txt", Path2: "/run/flatpak/doc/own.txt"},
		)
		if r[0].Errno != 0 || r[0].Out != "A's own" || r[1].Errno != 0 {
			t.Errorf("app B read %+v, write %+v", r[0], r[1])
		}
		if r[2].Out != ownDoc+"="+own {
			t.Errorf("GetHostPaths from B = %q", r[2].Out)
		}
		if r[3].Errno != int(syscall.EXDEV) && r[3].Errno != int(syscall.EPERM) {
			t.Errorf("rename out of a document = %+v, want EXDEV", r[3])
		}
		if b := e.run(t, nil, docpOp{Op: "read", Path: own}); b[0].Out != "B was here" {
			t.Errorf("real file = %q", b[0].Out)
		}
		// A fd of a file on the document mount, from the sandbox, maps
		// back to its document.
		r = e.run(t, boxA, docpOp{Op: "add", Path: filepath.Join("/run/flatpak/doc", ownDoc, "own.txt"), Flags: 1})
		if r[0].Out != ownDoc {
			t.Errorf("re-adding a document path from the sandbox = %+v, want %s", r[0], ownDoc)
		}
	})
}
