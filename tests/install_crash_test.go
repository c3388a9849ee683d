package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/porthole-dev/porthole/internal/testenv"
)

// TestKillDuringDeploy: kill -9 at each step of the checkout/deploy phase
// of install and of update (checked out but not renamed into place,
// complete but not active, active but the previous deployment and the
// exports not updated) leaves an active deployment that is complete and
// runnable (the previous one, until the switch), lists nothing
// half-installed, and the rerun completes.
func TestKillDuringDeploy(t *testing.T) {
	w := newFPWorld(t)
	repo := filepath.Join(w.dir, "repo")
	w.publishPT(repo, w.tinyRuntime("org.test.Platform"), w.helloApp("porthole", "app", "v0"))
	w.pt("remote-add", "--user", "--gpg-import="+w.pub, "r", w.serve(repo))
	w.pt("install", "--user", "-y", "--noninteractive", "r", "runtime/org.test.Platform/x86_64/1")
	canRun := testenv.HaveUserNS() || testenv.IsRoot()
	var runBin string
	if canRun {
		rb, err := buildRunBins()
		if err != nil {
			t.Fatal(err)
		}
		runBin = rb.porthole
	}
	appDir := filepath.Join(w.ptInst, "app/org.test.Hello/x86_64/stable")
	crash := func(point string, args ...string) {
		t.Helper()
		cmd := exec.Command(w.bin, args...)
		cmd.Env = append(w.env(), "PORTHOLE_TEST_CRASH_AT="+point)
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ProcessState.String() != "signal: killed" {
			t.Fatalf("%s at %s: %v (want killed)\n%s", args[0], point, err, out)
		}
	}
	// check wants the active deployment to print msg; "" means none.
	check := func(what, msg string) {
		t.Helper()
		list := w.installedRefs()
		if msg == "" {
			if strings.Contains(list, "org.test.Hello") {
				t.Fatalf("%s: half-installed app listed:\n%s", what, list)
			}
			return
		}
		if strings.Count(list, "org.test.Hello/x86_64/stable\n") != 1 {
			t.Fatalf("%s: list:\n%s", what, list)
		}
		data, err := os.ReadFile(filepath.Join(appDir, "active/files/bin/hello"))
		if err != nil || !strings.Contains(string(data), msg) {
			t.Fatalf("%s: active deployment is not %s: %v %q", what, msg, err, data)
		}
		if _, err := os.Stat(filepath.Join(appDir, "active/deploy")); err != nil {
			t.Fatalf("%s: active deployment incomplete: %v", what, err)
		}
		if canRun {
			if out, err := w.run(runBin, "run", "--user", "org.test.Hello"); err != nil || !strings.Contains(out, msg) {
				t.Fatalf("%s: porthole run: %v\n%s", what, err, out)
			}
		}
	}
	// complete checks a finished operation: one deployment, exports.
	complete := func(what, msg string) {
		t.Helper()
		check(what, msg)
		ents, _ := os.ReadDir(appDir)
		if len(ents) != 2 { // active + the commit
			t.Errorf("%s: leftovers next to the deployment: %v", what, ents)
		}
		if _, err := os.Stat(filepath.Join(w.ptInst, "exports/bin/org.test.Hello")); err != nil {
			t.Errorf("%s: export missing: %v", what, err)
		}
	}
	for _, point := range []string{"staged", "renamed", "activated"} {
		v1, v2 := "v1-"+point, "v2-"+point
		w.publishPT(repo, "", w.helloApp("porthole", "app", v1))

		crash(point, "install", "--user", "-y", "--noninteractive", "r", "org.test.Hello")
		if point == "activated" {
			check("install killed after "+point, v1)
		} else {
			check("install killed at "+point, "")
		}
		w.pt("install", "--user", "-y", "--noninteractive", "r", "org.test.Hello")
		complete("install rerun after "+point, v1)

		w.publishPT(repo, "", w.helloApp("porthole", "app", v2))
		crash(point, "update", "--user", "-y", "--noninteractive", "org.test.Hello")
		if point == "activated" {
			check("update killed after "+point, v2)
		} else {
			check("update killed at "+point, v1)
		}
		w.pt("update", "--user", "-y", "--noninteractive", "org.test.Hello")
		complete("update rerun after "+point, v2)

		w.pt("uninstall", "--user", "-y", "--noninteractive", "org.test.Hello")
	}
}
