package tests

import (
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/porthole-dev/porthole/internal/testenv"
)

// TestDocumentPortalPortholeRun checks the by-app view inside `porthole
// run`: the launcher asks the portal on the session bus for its mount point
// and binds by-app/APPID at /run/flatpak/doc, so the app
// reads the document granted to it and cannot see one granted to another
// app.
func TestDocumentPortalPortholeRun(t *testing.T) {
	testenv.ForEachUser(t, func(t *testing.T, u testenv.User) {
		b := needRunBins(t)
		f := needRunFixture(t)
		e := docpSetup(t, u)
		mine := e.file(t, "mine.txt", "for the probe")
		theirs := e.file(t, "theirs.txt", "for another app")
		r := e.run(t, nil,
			docpOp{Op: "addfull", Path: mine, Flags: 1, App: "org.test.Probe", Perms: []string{"read"}},
			docpOp{Op: "addfull", Path: theirs, Flags: 1, App: "org.test.Other", Perms: []string{"read"}},
		)
		x, y := r[0].Out, r[1].Out
		if x == "" || y == "" {
			t.Fatalf("AddFull = %+v", r)
		}
		home := testenv.SharedTempDir(t, u)
		out, err := runAsEnv(t, u, home, f.inst, []string{"XDG_RUNTIME_DIR=" + e.runtime, e.bus.Env()}, b.porthole,
			"run", "--user", "org.test.Probe",
			"file", "/run/flatpak/doc/"+x+"/mine.txt",
			"visible", "/run/flatpak/doc/"+y, "/run/flatpak/doc/"+x)
		if err != nil {
			t.Fatalf("porthole run: %v\n%s", err, out)
		}
		got := probeMap(out)
		if want := fmt.Sprintf("sha256:%x", sha256.Sum256([]byte("for the probe"))); got["file /run/flatpak/doc/"+x+"/mine.txt"] != want {
			t.Errorf("the app reads its document: %q, want %q\n%s", got["file /run/flatpak/doc/"+x+"/mine.txt"], want, out)
		}
		if got["visible /run/flatpak/doc/"+y] != "no" || got["visible /run/flatpak/doc/"+x] != "yes" {
			t.Errorf("visibility in the sandbox: other app's %q, own %q", got["visible /run/flatpak/doc/"+y], got["visible /run/flatpak/doc/"+x])
		}
	})
}
