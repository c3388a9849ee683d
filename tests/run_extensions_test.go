package tests

import (
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/porthole-dev/porthole/internal/testenv"
)

// extFixture is a Flatpak installation, made by the real flatpak, with a
// runtime and an app that declare extension points, and extensions for
// them: a plain one with a priority (org.test.ExtPlatform.Codecs),
// subdirectory ones of another branch with merge-dirs
// (org.test.ExtPlatform.GL.{foo,bar}//1.4) and an app extension
// (org.test.ExtProbe.Plugin), all with add-ld-path; plus an extension
// point with nothing installed.
var buildExtFixture = sync.OnceValues(func() (string, error) {
	b, err := buildRunBins()
	if err != nil {
		return "", err
	}
	probeData, err := os.ReadFile(b.probe)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(append(probeData, "ext-3"...))
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("porthole-run-extfixture-%x", sum[:6]))
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err == nil {
		return filepath.Join(dir, "inst"), nil
	}
	os.RemoveAll(dir)
	write := func(p, content string, mode os.FileMode) {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755)
		os.WriteFile(filepath.Join(dir, p), []byte(content), mode)
	}
	mkdir := func(p string) { os.MkdirAll(filepath.Join(dir, p), 0o755) }
	ldconfig, _ := os.ReadFile("/usr/sbin/ldconfig")
	write("rt/usr/bin/ldconfig", string(ldconfig), 0o755)
	// An empty ld.so.conf: both tools generate one that includes the
	// extensions' ld.so.conf.d entries, so ldconfig sees their libraries.
	write("rt/usr/etc/ld.so.conf", "", 0o644)
	mkdir("rt/files")
	mkdir("rt/usr/lib/GL")
	mkdir("rt/usr/lib/codecs")
	write("rt/metadata", "[Runtime]\nname=org.test.ExtPlatform\nruntime=org.test.ExtPlatform/x86_64/master\nsdk=org.test.ExtPlatform/x86_64/master\n\n"+
		"[Extension org.test.ExtPlatform.GL]\ndirectory=lib/GL\nsubdirectories=true\nadd-ld-path=lib\nmerge-dirs=vulkan/icd.d;egl\nversion=1.4\nno-autodownload=true\n\n"+
		"[Extension org.test.ExtPlatform.Codecs]\ndirectory=lib/codecs\nadd-ld-path=lib\n\n"+
		"[Extension org.test.ExtPlatform.Nothing]\ndirectory=lib/nothing\n", 0o644)
	write("app/files/bin/probe", string(probeData), 0o755)
	mkdir("app/files/plugins")
	mkdir("app/var")
	write("app/metadata", "[Application]\nname=org.test.ExtProbe\nruntime=org.test.ExtPlatform/x86_64/master\nsdk=org.test.ExtPlatform/x86_64/master\ncommand=probe\n\n[Context]\nshared=ipc;\n\n"+
		"[Extension org.test.ExtProbe.Plugin]\ndirectory=plugins\nadd-ld-path=lib\n\n[Extension org.test.ExtProbe.Missing]\ndirectory=missing\n", 0o644)
	exts := []struct{ id, branch, of, extra string }{
		{"org.test.ExtPlatform.Codecs", "master", "runtime/org.test.ExtPlatform/x86_64/master", "priority=5\n"},
		{"org.test.ExtPlatform.GL.foo", "1.4", "runtime/org.test.ExtPlatform/x86_64/master", ""},
		{"org.test.ExtPlatform.GL.bar", "1.4", "runtime/org.test.ExtPlatform/x86_64/master", ""},
		{"org.test.ExtProbe.Plugin", "master", "app/org.test.ExtProbe/x86_64/master", ""},
	}
	for _, e := range exts {
		base := "ext-" + e.id
		// build-export --runtime exports usr/, or files/ for an
		// extension: both hold the same.
		for _, top := range []string{"/files", "/usr"} {
			write(base+top+"/lib/README", e.id+"\n", 0o644)
			write(base+top+"/vulkan/icd.d/"+e.id+".json", "{}\n", 0o644)
			write(base+top+"/egl/common.json", e.id+"\n", 0o644)
			if libz, err := os.ReadFile("/usr/lib/x86_64-linux-gnu/libz.so.1"); err == nil && e.id == "org.test.ExtPlatform.Codecs" {
				write(base+top+"/lib/libz.so.1", string(libz), 0o644)
			}
		}
		write(base+"/metadata", "[Runtime]\nname="+e.id+"\n\n[ExtensionOf]\nref="+e.of+"\n"+e.extra, 0o644)
	}
	inst := filepath.Join(dir, "inst")
	repo := filepath.Join(dir, "repo")
	cmds := [][]string{
		{"build-export", "--runtime", repo, filepath.Join(dir, "rt"), "master"},
		{"build-finish", filepath.Join(dir, "app")},
		{"build-export", repo, filepath.Join(dir, "app"), "master"},
	}
	install := []string{"--user", "install", "-y", "--noninteractive", "test", "app/org.test.ExtProbe/x86_64/master"}
	for _, e := range exts {
		cmds = append(cmds, []string{"build-export", "--runtime", repo, filepath.Join(dir, "ext-"+e.id), e.branch})
		install = append(install, "runtime/"+e.id+"/x86_64/"+e.branch)
	}
	cmds = append(cmds, []string{"--user", "remote-add", "--no-gpg-verify", "test", "file://" + repo}, install)
	env := append(os.Environ(), "FLATPAK_USER_DIR="+inst)
	for _, args := range cmds {
		cmd := exec.Command("flatpak", args...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", &buildError{"flatpak " + strings.Join(args, " "), err, string(out)}
		}
	}
	exec.Command("chmod", "-R", "a+rX", dir).Run()
	os.WriteFile(filepath.Join(dir, ".complete"), nil, 0o644)
	return inst, nil
})

func needExtFixture(t *testing.T) string {
	t.Helper()
	testenv.RequireCommand(t, "flatpak")
	inst, err := buildExtFixture()
	if err != nil {
		t.Fatal(err)
	}
	return inst
}

// sameRun runs args under flatpak and porthole (calling before ahead of
// each), requires the same output but for the capability lines as root
// (bwrap keeps root's capabilities, we drop them) and returns porthole's.
func sameRun(t *testing.T, u testenv.User, home, inst, porthole string, before func(), args ...string) string {
	t.Helper()
	var outs [2]string
	for i, tool := range []string{"flatpak", porthole} {
		if before != nil {
			before()
		}
		out, err := runAs(t, u, home, inst, tool, args...)
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", tool, args, err, out)
		}
		outs[i] = out
	}
	want, got := outs[0], outs[1]
	if u.IsRoot() {
		want, got = dropCaps(want), dropCaps(got)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%v: output differs (-flatpak +porthole):\n%s", args, diff)
	}
	return outs[1]
}

// TestRunExtensionsSameAsFlatpak runs the probe in the app with
// extensions under `flatpak run` and `porthole run` of the same
// installation: the mounts (tmpfs for subdirectories, binds in directory
// order, merge-dirs links, first by priority), the ld.so.conf.d files and
// the generated ld.so.cache, LD_LIBRARY_PATH and the app-extensions and
// runtime-extensions of /.flatpak-info must be identical.
func TestRunExtensionsSameAsFlatpak(t *testing.T) {
	b := needRunBins(t)
	inst := needExtFixture(t)
	testenv.ForEachUser(t, func(t *testing.T, u testenv.User) {
		home := testenv.SharedTempDir(t, u)
		probe := []string{"org.test.ExtProbe", "info", "visible",
			"/usr/lib/GL/foo/lib/README", "/usr/lib/GL/bar/vulkan/icd.d/org.test.ExtPlatform.GL.bar.json",
			"/usr/lib/GL/vulkan/icd.d/org.test.ExtPlatform.GL.foo.json", "/usr/lib/codecs/lib/README", "/app/plugins/lib/README",
			"/usr/lib/nothing", "/app/missing",
			"file", "/usr/lib/GL/egl/common.json", "/etc/ld.so.cache",
			"/run/flatpak/ld.so.conf.d/app-001-org.test.ExtProbe.Plugin.conf",
			"/run/flatpak/ld.so.conf.d/runtime-001-org.test.ExtPlatform.Codecs.conf",
			"/run/flatpak/ld.so.conf.d/runtime-002-org.test.ExtPlatform.GL.bar.conf",
			"/run/flatpak/ld.so.conf.d/runtime-003-org.test.ExtPlatform.GL.foo.conf",
		}
		for _, mode := range [][]string{nil, {"--devel"}} {
			args := append(append([]string{"run", "--user"}, mode...), probe...)
			// Each tool generates its own ld.so.cache (same path and key).
			got := sameRun(t, u, home, inst, b.porthole, func() {
				os.RemoveAll(filepath.Join(home, ".var", "app", "org.test.ExtProbe", ".ld.so"))
			}, args...)
			m := probeMap(got)
			for _, k := range []string{"visible /usr/lib/GL/foo/lib/README", "visible /usr/lib/GL/vulkan/icd.d/org.test.ExtPlatform.GL.foo.json",
				"visible /usr/lib/codecs/lib/README", "visible /app/plugins/lib/README"} {
				if m[k] != "yes" {
					t.Errorf("%v: %s = %q, want yes", mode, k, m[k])
				}
			}
			if !strings.Contains(got, "runtime-extensions=org.test.ExtPlatform.Codecs=") || !strings.Contains(got, "app-extensions=org.test.ExtProbe.Plugin=") {
				t.Errorf("%v: no extensions in /.flatpak-info:\n%s", mode, got)
			}
		}
	})
}
