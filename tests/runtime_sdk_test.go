package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/porthole-dev/porthole/internal/testenv"
)

// debianRuntimeRepo returns an archive repository with org.porthole.Platform
// and org.porthole.Sdk (branch 12) made by data/runtime/build.sh, cached
// under $PORTHOLE_CACHE (~/.cache/porthole) by the recipe's hash (build.sh
// --recipe-hash): the first run debootstraps and exports (minutes, the
// Debian trees are shared with make demo), later ones reuse it.
func debianRuntimeRepo(t *testing.T, bin string) string {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, "debootstrap")
	top, _ := filepath.Abs("..")
	hash, err := exec.Command(filepath.Join(top, "data", "runtime", "build.sh"), "--recipe-hash").Output()
	if err != nil {
		t.Fatal(err)
	}
	cache := os.Getenv("PORTHOLE_CACHE")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache", "porthole")
	}
	repo := filepath.Join(cache, "test-runtime-repo-"+strings.TrimSpace(string(hash)))
	if _, err := os.Stat(filepath.Join(repo, ".complete")); err == nil {
		return repo
	}
	os.RemoveAll(repo)
	cmd := exec.Command(filepath.Join(top, "data", "runtime", "build.sh"), repo)
	cmd.Env = append(os.Environ(), "PORTHOLE="+bin)
	if out, err := cmd.CombinedOutput(); err != nil {
		testenv.Require(t, false, "data/runtime/build.sh: "+err.Error()+"\n"+string(out))
	}
	spRun(t, bin, "build-update-repo", "--no-update-appstream", repo)
	os.WriteFile(filepath.Join(repo, ".complete"), nil, 0o644)
	return repo
}

// debianRuntimeInstallation returns an installation (used as the system
// one, read-only) with the Platform and the Sdk of debianRuntimeRepo
// installed, cached next to it.
func debianRuntimeInstallation(t *testing.T, bin string) string {
	t.Helper()
	repo := debianRuntimeRepo(t, bin)
	inst := strings.Replace(repo, "test-runtime-repo-", "test-runtime-inst-", 1)
	if _, err := os.Stat(filepath.Join(inst, ".complete")); err == nil {
		return inst
	}
	os.RemoveAll(inst)
	for _, args := range [][]string{{"remote-add", "--system", "--no-gpg-verify", "deb", "file://" + repo},
		{"install", "--system", "-y", "--noninteractive", "deb", "runtime/org.porthole.Sdk/x86_64/12", "runtime/org.porthole.Platform/x86_64/12"}} {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "PORTHOLE_SYSTEM_DIR="+inst)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("porthole %v: %v\n%s", args, err, out)
		}
	}
	os.WriteFile(filepath.Join(inst, ".complete"), nil, 0o644)
	return inst
}

// TestSdkBuildsC: org.porthole.Sdk has a C toolchain and pkg-config:
// porthole build compiles a C program with GLib's headers inside the SDK
// sandbox; the app runs on the Platform, which has no compiler.
func TestSdkBuildsC(t *testing.T) {
	w := newFPWorld(t)
	testenv.Require(t, testenv.HaveUserNS() || testenv.IsRoot(), "porthole build needs user namespaces")
	rb, err := buildRunBins()
	if err != nil {
		t.Fatal(err)
	}
	system := debianRuntimeInstallation(t, w.bin)
	if _, err := os.Stat(filepath.Join(system, "runtime/org.porthole.Platform/x86_64/12/active/files/bin/gcc")); err == nil {
		t.Error("the Platform has gcc; it should stay lean")
	}
	// The runtimes come from the cached system installation; the app
	// goes into this test's user installation.
	run := func(args ...string) (string, error) {
		cmd := exec.Command(rb.porthole, args...)
		cmd.Env = append(w.env(), "PORTHOLE_SYSTEM_DIR="+system)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	app := filepath.Join(w.dir, "capp")
	w.pt("build-init", app, "org.test.CApp", "org.porthole.Sdk", "org.porthole.Platform", "12")
	src := filepath.Join(app, "files", "src")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "hello.c"), []byte(`#include <glib.h>
#include <stdio.h>
int main(void) { printf("hello from C, built with GLib %d.%d\n", GLIB_MAJOR_VERSION, GLIB_MINOR_VERSION); return 0; }
`), 0o644)
	// GLib's headers come from the SDK; the program only uses its macros,
	// so it runs on the Platform, which has no GLib.
	out, err := run("build", app, "sh", "-c",
		"mkdir -p /app/bin && cc -O2 -o /app/bin/hello /app/src/hello.c $(pkg-config --cflags glib-2.0) && make --version | head -1")
	if err != nil || !strings.Contains(out, "GNU Make") {
		t.Fatalf("porthole build: %v\n%s", err, out)
	}
	t.Logf("built in the SDK sandbox: %s", strings.TrimSpace(out))
	w.pt("build-finish", app, "--command=hello")
	appRepo := filepath.Join(w.dir, "apprepo")
	w.pt("build-export", appRepo, app, "stable")
	w.pt("remote-add", "--user", "--no-gpg-verify", "apps", "file://"+appRepo)
	if out, err := run("install", "--user", "-y", "--noninteractive", "--no-deps", "apps", "org.test.CApp"); err != nil {
		t.Fatalf("install: %v\n%s", err, out)
	}
	if out, err := run("run", "org.test.CApp"); err != nil || !strings.Contains(out, "hello from C, built with GLib 2.") {
		t.Fatalf("porthole run: %v\n%s", err, out)
	}
}
