package tests

import (
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/porthole-dev/porthole/internal/testenv"
)

// docpChooser is a FileChooser backend that always picks one file.
type docpChooser struct{ uri string }

func (c *docpChooser) OpenFile(handle dbus.ObjectPath, app, parent, title string, opts map[string]dbus.Variant) (uint32, map[string]dbus.Variant, *dbus.Error) {
	return 0, map[string]dbus.Variant{"uris": dbus.MakeVariant([]string{c.uri})}, nil
}

// TestDocumentPortalDebianFrontend runs Debian's xdg-desktop-portal on our
// document portal: a sandboxed app opens a file through FileChooser (a
// backend that picks the file) and gets a document path served by us,
// which it can read in its view and another app cannot see.
func TestDocumentPortalDebianFrontend(t *testing.T) {
	const frontend = "/usr/libexec/xdg-desktop-portal"
	_, err := os.Stat(frontend)
	testenv.Require(t, err == nil, "needs "+frontend+" (Debian package xdg-desktop-portal)")
	testenv.ForEachUser(t, func(t *testing.T, u testenv.User) {
		e := docpSetup(t, u)
		picked := e.file(t, "picked.txt", "the chosen one")

		backend := e.bus.Conn(t)
		if err := backend.Export(&docpChooser{uri: (&url.URL{Scheme: "file", Path: picked}).String()}, "/org/freedesktop/portal/desktop", "org.freedesktop.impl.portal.FileChooser"); err != nil {
			t.Fatal(err)
		}
		if reply, err := backend.RequestName("org.freedesktop.impl.portal.Test", 0); err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
			t.Fatalf("owning the backend name: %v %v", reply, err)
		}
		portals := testenv.SharedTempDir(t, u)
		os.WriteFile(filepath.Join(portals, "test.portal"), []byte("[portal]\nDBusName=org.freedesktop.impl.portal.Test\nInterfaces=org.freedesktop.impl.portal.FileChooser;\nUseIn=test\n"), 0o644)
		os.WriteFile(filepath.Join(portals, "test-portals.conf"), []byte("[preferred]\ndefault=test;\n"), 0o644)

		cmd := exec.Command(frontend)
		e.u.Apply(t, cmd)
		cmd.Env = append(e.env(), "XDG_DESKTOP_PORTAL_DIR="+portals, "XDG_CURRENT_DESKTOP=test")
		log := &docpLog{}
		cmd.Stderr = log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			cmd.Process.Kill()
			cmd.Wait()
			if t.Failed() {
				t.Logf("xdg-desktop-portal stderr:\n%s", log)
			}
		})
		deadline := time.Now().Add(10 * time.Second)
		for {
			var has bool
			e.conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, "org.freedesktop.portal.Desktop").Store(&has)
			if has {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("xdg-desktop-portal did not start:\n%s", log)
			}
			time.Sleep(20 * time.Millisecond)
		}

		// The app's view also at the mount point's own path, where the
		// returned path points (as /run/user/UID/doc in a real session).
		view := filepath.Join(e.mount, "by-app", "org.example.Chooser")
		box := e.docpSandbox(t, "org.example.Chooser", "--bind", view, e.mount)
		r := e.run(t, box, docpOp{Op: "choose"})
		fields := strings.Fields(r[0].Out)
		if r[0].Err != "" || len(fields) != 2 || fields[0] != "0" {
			t.Fatalf("OpenFile = %+v", r[0])
		}
		uri, _ := url.Parse(fields[1])
		rel, ok := strings.CutPrefix(uri.Path, e.mount+"/")
		if !ok || !strings.HasSuffix(rel, "/picked.txt") {
			t.Fatalf("OpenFile gave %s, want a document under %s", fields[1], e.mount)
		}
		t.Logf("OpenFile: %s", fields[1])
		r = e.run(t, box, docpOp{Op: "read", Path: uri.Path})
		if r[0].Errno != 0 || r[0].Out != "the chosen one" {
			t.Errorf("app reads its document: %+v", r[0])
		}
		other := e.docpSandbox(t, "org.example.Other")
		id := strings.Split(rel, "/")[0]
		if r := e.run(t, other, docpOp{Op: "stat", Path: "/run/flatpak/doc/" + id}); r[0].Errno != int(syscall.ENOENT) {
			t.Errorf("another app sees the chosen document: %+v", r[0])
		}
	})
}
