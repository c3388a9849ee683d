package tests

import (
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// duK is `du -sk` of dirs in one run (hard links counted once).
func duK(t *testing.T, dirs ...string) int {
	t.Helper()
	out, err := exec.Command("du", append([]string{"-skc"}, dirs...)...).Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	n, err := strconv.Atoi(strings.Fields(lines[len(lines)-1])[0])
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSharedStorage: a second runtime sharing most files with the first
// adds only the difference on disk, as the OSTree model promises.
func TestSharedStorage(t *testing.T) {
	w := newFPWorld(t)
	fill := func(rt string, changed int) {
		for i := 0; i < 300; i++ {
			seed := fmt.Sprint(i)
			if i < changed {
				seed += "-changed"
			}
			var data []byte
			for h := sha256.Sum256([]byte(seed)); len(data) < 16<<10; h = sha256.Sum256(h[:]) {
				data = append(data, h[:]...)
			}
			p := filepath.Join(rt, "usr", "share", "data", fmt.Sprintf("f%03d", i))
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	a := w.tinyRuntime("org.test.Platform")
	fill(a, 0)
	b := w.tinyRuntime("org.test.Platform2")
	fill(b, 10)
	repo := filepath.Join(w.dir, "repo")
	sign := []string{"--gpg-sign=" + w.fpr, "--gpg-homedir=" + w.gpgHome}
	w.pt(append([]string{"build-export", "--runtime", "--no-update-summary"}, append(sign, repo, a, "1")...)...)
	w.pt(append([]string{"build-export", "--runtime", "--no-update-summary"}, append(sign, repo, b, "1")...)...)
	w.pt(append([]string{"build-update-repo", "--gpg-import=" + w.pub}, append(sign, repo)...)...)
	w.pt("remote-add", "--user", "--gpg-import="+w.pub, "r", w.serve(repo))

	w.pt("install", "--user", "-y", "--noninteractive", "r", "runtime/org.test.Platform/x86_64/1")
	one := duK(t, w.ptInst)
	w.pt("install", "--user", "-y", "--noninteractive", "r", "runtime/org.test.Platform2/x86_64/1")
	two := duK(t, w.ptInst)
	apart := duK(t, a) + duK(t, b)
	t.Logf("du: first runtime %d KiB, both %d KiB (+%d KiB for the second); the two trees apart: %d KiB", one, two, two-one, apart)
	// 10 of 300 files differ (160 KiB); allow directory and metadata overhead.
	if two-one > one/4 {
		t.Errorf("second runtime added %d KiB to %d KiB: files are not shared", two-one, one)
	}
}

// TestSystemInstallation: without --user, remotes and installs go to the
// system installation (PORTHOLE_SYSTEM_DIR), and list says so.
func TestSystemInstallation(t *testing.T) {
	w := newFPWorld(t)
	repo := filepath.Join(w.dir, "repo")
	w.publishPT(repo, w.tinyRuntime("org.test.Platform"), w.helloApp("porthole", "app", "hi"))
	w.pt("remote-add", "--gpg-import="+w.pub, "sys", w.serve(repo))
	w.pt("install", "-y", "--noninteractive", "sys", "org.test.Hello")
	sys := filepath.Join(w.dir, "pt-system")
	if _, err := os.Stat(filepath.Join(sys, "app", "org.test.Hello", "current")); err != nil {
		t.Fatalf("not installed in the system installation: %v", err)
	}
	if _, err := os.Stat(w.ptInst); err == nil {
		t.Error("the user installation was touched")
	}
	if out := w.pt("list", "--columns=application,installation"); !strings.Contains(out, "org.test.Hello\tsystem") {
		t.Errorf("list:\n%s", out)
	}
	if out := w.pt("remote-ls", "--updates"); strings.TrimSpace(out) != "" {
		t.Errorf("remote-ls --updates with nothing new:\n%s", out)
	}
	w.publishPT(repo, "", w.helloApp("porthole", "app", "hi again"))
	if out := w.pt("remote-ls", "--updates"); !strings.Contains(out, "org.test.Hello") {
		t.Errorf("remote-ls --updates:\n%s", out)
	}
	w.pt("update", "-y", "--noninteractive")
	if out := w.pt("remote-ls", "--updates"); strings.TrimSpace(out) != "" {
		t.Errorf("remote-ls --updates after update:\n%s", out)
	}
	w.pt("remote-modify", "--title=Renamed", "sys")
	if out := w.pt("remotes"); !strings.Contains(out, "sys\tRenamed\t") {
		t.Errorf("remotes:\n%s", out)
	}
	w.ptFail("remote-delete", "sys")
	w.pt("uninstall", "-y", "--noninteractive", "org.test.Hello")
	w.pt("uninstall", "-y", "--noninteractive", "--unused")
	w.pt("remote-delete", "sys")
}
