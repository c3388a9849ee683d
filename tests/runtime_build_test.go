package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/porthole-dev/porthole/internal/testenv"
)

// TestBuildInSDK: porthole build runs a command with the installed SDK as
// /usr and the build directory's files writable at /app.
func TestBuildInSDK(t *testing.T) {
	w := newFPWorld(t)
	testenv.Require(t, testenv.HaveUserNS() || testenv.IsRoot(), "porthole build needs user namespaces")
	rb, err := buildRunBins()
	if err != nil {
		t.Fatal(err)
	}
	repo := filepath.Join(w.dir, "repo")
	w.publishPT(repo, w.tinyRuntime("org.test.Platform"), "")
	w.pt("remote-add", "--user", "--gpg-import="+w.pub, "r", w.serve(repo))
	w.pt("install", "--user", "-y", "--noninteractive", "r", "org.test.Platform")
	app := filepath.Join(w.dir, "b")
	w.pt("build-init", app, "org.test.Built", "org.test.Platform", "org.test.Platform", "1")
	out, err := w.run(rb.porthole, "build", "--user", app, "sh", "-c", "echo built > /app/out && echo in-sandbox")
	if err != nil || !strings.Contains(out, "in-sandbox") {
		t.Fatalf("porthole build: %v\n%s", err, out)
	}
	if data, err := os.ReadFile(filepath.Join(app, "files", "out")); err != nil || string(data) != "built\n" {
		t.Errorf("/app not written through: %v %q", err, data)
	}
}
