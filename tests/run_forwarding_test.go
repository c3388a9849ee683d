package tests

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/porthole-dev/porthole/internal/testbus"
	"github.com/porthole-dev/porthole/internal/testenv"
)

func sha(s string) string { return fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(s))) }

// docKeys returns the probe's "MODE PATH" keys whose path starts with
// prefix, and their values.
func docKeys(m map[string]string, mode, prefix string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		if p, ok := strings.CutPrefix(k, mode+" "); ok && strings.HasPrefix(p, prefix) {
			out[p] = v
		}
	}
	return out
}

// TestRunFileForwarding runs `porthole run --file-forwarding` with our
// document portal on a private bus: a file between @@ markers is exported
// to the app (read and write) and named by its document path, the app
// reads it and nothing else of the directory, @@u forwards file: URIs to
// the same document, files the sandbox already sees pass unchanged, and
// without a document portal the arguments pass unchanged. Flatpak's run
// of the same app gets the same document.
func TestRunFileForwarding(t *testing.T) {
	testenv.ForEachUser(t, func(t *testing.T, u testenv.User) {
		b := needRunBins(t)
		f := needRunFixture(t)
		e := docpSetup(t, u)
		secret := e.file(t, "secret.txt", "forwarded")
		other := e.file(t, "other.txt", "not forwarded")
		home := testenv.SharedTempDir(t, u)
		env := []string{"XDG_RUNTIME_DIR=" + e.runtime, e.bus.Env()}
		docPrefix := "/run/user/" + strconv.Itoa(u.UID) + "/doc/"

		out, err := runAsEnv(t, u, home, f.inst, env, b.porthole,
			"run", "--user", "--file-forwarding", "org.test.Probe",
			"file", "@@", secret, "@@", "visible", secret, other, e.files)
		if err != nil {
			t.Fatalf("porthole run: %v\n%s", err, out)
		}
		got := probeMap(out)
		docs := docKeys(got, "file", docPrefix)
		if len(docs) != 1 {
			t.Fatalf("forwarded paths = %v, want one under %s\n%s", docs, docPrefix, out)
		}
		var docPath string
		for p, v := range docs {
			docPath = p
			if v != sha("forwarded") {
				t.Errorf("the app reads %s: %q, want the forwarded file's content", p, v)
			}
		}
		id := strings.Split(strings.TrimPrefix(docPath, docPrefix), "/")[0]
		if want := docPrefix + id + "/secret.txt"; docPath != want {
			t.Errorf("forwarded path = %q, want %q", docPath, want)
		}
		for _, p := range []string{secret, other, e.files} {
			if got["visible "+p] != "no" {
				t.Errorf("host path %s visible in the sandbox: %q", p, got["visible "+p])
			}
		}
		r := e.run(t, nil, docpOp{Op: "info", ID: id}, docpOp{Op: "list", App: "org.test.Probe"})
		if want := secret + " org.test.Probe=read,write"; r[0].Out != want {
			t.Errorf("Info(%s) = %q, want %q", id, r[0].Out, want)
		}

		// @@u: a file: URI becomes the document's URI, the same document
		// (reuse-existing); other arguments between the markers pass.
		uri := "file://" + strings.ReplaceAll(secret, "secret", "s%65cret")
		out, err = runAsEnv(t, u, home, f.inst, env, b.porthole,
			"run", "--user", "--file-forwarding", "org.test.Probe",
			"visible", "@@u", uri, "relative-arg", "@@")
		if err != nil {
			t.Fatalf("porthole run @@u: %v\n%s", err, out)
		}
		got = probeMap(out)
		if want := "file://" + docPrefix + id + "/secret.txt"; got["visible "+want] == "" {
			t.Errorf("@@u %s not forwarded as %s:\n%s", uri, want, out)
		}
		if got["visible relative-arg"] == "" {
			t.Errorf("a non-path argument between @@u markers was not passed unchanged:\n%s", out)
		}

		// A file the sandbox sees is not forwarded.
		mine := filepath.Join(home, "mine.txt")
		if err := os.WriteFile(mine, []byte("visible"), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chown(mine, u.UID, u.GID)
		out, err = runAsEnv(t, u, home, f.inst, env, b.porthole,
			"run", "--user", "--file-forwarding", "--filesystem=home", "org.test.Probe", "file", "@@", mine, "@@")
		if err != nil {
			t.Fatalf("porthole run --filesystem=home: %v\n%s", err, out)
		}
		if got := probeMap(out); got["file "+mine] != sha("visible") || len(docKeys(got, "file", docPrefix)) != 0 {
			t.Errorf("a visible file was forwarded or not passed:\n%s", out)
		}

		// Without the document portal: the markers are dropped, paths pass.
		out, err = runAsEnv(t, u, home, f.inst, env, b.porthole,
			"run", "--user", "--file-forwarding", "--no-documents-portal", "org.test.Probe", "file", "@@", secret, "@@")
		if err != nil {
			t.Fatalf("porthole run --no-documents-portal: %v\n%s", err, out)
		}
		if got := probeMap(out); got["file "+secret] != "ENOENT" {
			t.Errorf("without a portal: %q, want the unchanged path (ENOENT in the sandbox)\n%s", got["file "+secret], out)
		}

		// Flatpak forwards the same file to the same document (it names
		// it by the host mount point, invisible here since the runtime
		// dir is not /run/user/UID).
		out, err = runAsEnv(t, u, home, f.inst, env, "flatpak",
			"run", "--user", "--file-forwarding", "org.test.Probe", "visible", "@@", secret, "@@")
		if err != nil {
			t.Fatalf("flatpak run: %v\n%s", err, out)
		}
		if want := filepath.Join(e.mount, id, "secret.txt"); probeMap(out)["visible "+want] == "" {
			t.Errorf("flatpak's forwarded path is not %s:\n%s", want, out)
		}
	})
}

// TestRunDocumentPortalActivation: `porthole run` asks the document
// portal for its mount point, which D-Bus-activates it, and binds the
// app's view at /run/flatpak/doc (reached through /run/user/UID/doc).
func TestRunDocumentPortalActivation(t *testing.T) {
	testenv.ForEachUser(t, func(t *testing.T, u testenv.User) {
		b := needRunBins(t)
		f := needRunFixture(t)
		testenv.RequireFUSE(t)
		testenv.RequireCommand(t, "setpriv")
		if !u.IsRoot() {
			var st syscall.Stat_t
			testenv.Require(t, syscall.Stat("/dev/fuse", &st) == nil && st.Mode&0o006 == 0o006, "needs /dev/fuse readable and writable by all")
		}
		e := &docpEnv{u: u, bus: testbus.New(t)}
		e.conn = e.bus.Conn(t)
		e.runtime = testenv.RuntimeDir(t, u)
		e.data = filepath.Join(testenv.SharedTempDir(t, u), "data")
		os.Mkdir(e.data, 0o755)
		os.Chown(e.data, u.UID, u.GID)
		e.mount = filepath.Join(e.runtime, "doc")
		e.portalBn = docpBuild(t, "porthole-document-portal")
		e.store = e.start(t, docpBuild(t, "porthole-permission-store"), "org.freedesktop.impl.portal.PermissionStore")
		e.bus.AddService(docpName, fmt.Sprintf("/usr/bin/setpriv --reuid=%d --regid=%d --clear-groups %s", u.UID, u.GID, e.portalBn),
			"XDG_RUNTIME_DIR="+e.runtime, "XDG_DATA_HOME="+e.data, "HOME="+u.Home)
		t.Cleanup(func() {
			// Stop the activated portal, which unmounts its file system.
			var owner string
			var pid uint32
			if e.conn.BusObject().Call("org.freedesktop.DBus.GetNameOwner", 0, docpName).Store(&owner) == nil &&
				e.conn.BusObject().Call("org.freedesktop.DBus.GetConnectionUnixProcessID", 0, owner).Store(&pid) == nil {
				syscall.Kill(int(pid), syscall.SIGHUP)
				for i := 0; i < 500 && e.conn.BusObject().Call("org.freedesktop.DBus.GetNameOwner", 0, docpName).Err == nil; i++ {
					time.Sleep(10 * time.Millisecond)
				}
			}
		})
		var has bool
		if e.conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, docpName).Store(&has); has {
			t.Fatal("the document portal runs before porthole run")
		}
		home := testenv.SharedTempDir(t, u)
		env := []string{"XDG_RUNTIME_DIR=" + e.runtime, e.bus.Env()}
		run := "/run/user/" + strconv.Itoa(u.UID)
		out, err := runAsEnv(t, u, home, f.inst, env, b.porthole,
			"run", "--user", "org.test.Probe", "visible", "/run/flatpak/doc", run+"/doc/.", run+"/doc/by-app")
		if err != nil {
			t.Fatalf("porthole run: %v\n%s", err, out)
		}
		got := probeMap(out)
		if got["visible /run/flatpak/doc"] != "yes" || got["visible "+run+"/doc/."] != "yes" || got["visible "+run+"/doc/by-app"] != "no" {
			t.Errorf("document mount in the sandbox: %v\n%s", got, out)
		}
		if e.conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, docpName).Store(&has); !has {
			t.Error("porthole run did not activate the document portal")
		}
	})
}
