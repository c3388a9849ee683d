package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/porthole-dev/porthole/internal/testenv"
)

// TestRunInfoShowPermissions installs the fixture app with porthole, adds
// global and per-app overrides, and compares `porthole info
// --show-permissions` (the metadata merged with the overrides, flattened)
// with `flatpak info --show-permissions` reading the same installation.
// As root it also checks a system installation, whose system overrides
// count, and whose user overrides still do.
func TestRunInfoShowPermissions(t *testing.T) {
	b := needRunBins(t)
	f := needRunFixture(t)
	repo := filepath.Join(filepath.Dir(f.inst), "repo")
	testenv.ForEachUser(t, func(t *testing.T, u testenv.User) {
		home := testenv.SharedTempDir(t, u)
		inst := testenv.SharedTempDir(t, u)
		sys := filepath.Join(home, "no-system")
		both := func(args ...string) (string, string) {
			t.Helper()
			env := []string{"FLATPAK_SYSTEM_DIR=" + sys}
			ours, err := runAsEnv(t, u, home, inst, env, b.porthole, args...)
			if err != nil {
				t.Fatalf("porthole %v: %v\n%s", args, err, ours)
			}
			theirs, err := runAsEnv(t, u, home, inst, env, "flatpak", args...)
			if err != nil {
				t.Fatalf("flatpak %v: %v\n%s", args, err, theirs)
			}
			return ours, theirs
		}
		for _, args := range [][]string{
			{"remote-add", "--user", "--no-gpg-verify", "test", "file://" + repo},
			{"install", "--user", "-y", "test", "org.test.Probe"},
			{"override", "--user", "--filesystem=home:ro", "--nofilesystem=host", "--talk-name=org.a.B", "--env=FOO=bar",
				"--socket=x11", "--persist=.foo", "--system-talk-name=org.sys", "--unset-env=BAR", "--device=dri", "--unshare=ipc", "org.test.Probe"},
			{"override", "--user", "--share=network", "--own-name=org.own", "--filesystem=xdg-download/sub:create", "--allow=devel"},
		} {
			if out, err := runAs(t, u, home, inst, b.porthole, args...); err != nil {
				t.Fatalf("porthole %v: %v\n%s", args, err, out)
			}
		}
		for _, args := range [][]string{
			{"info", "--user", "--show-permissions", "org.test.Probe"},
			{"info", "--user", "-M", "org.test.Platform"},
			{"info", "--user", "--show-metadata", "org.test.Probe"},
		} {
			if ours, theirs := both(args...); ours != theirs {
				t.Errorf("%v:\n--- flatpak\n%s\n--- porthole\n%s", args, theirs, ours)
			}
		}

		// --file-access: the exports of the merged context, as flatpak
		// computes them, for paths in and out of the grants.
		os.MkdirAll(filepath.Join(home, "docs"), 0o755)
		os.Symlink("/etc", filepath.Join(home, "etc-link"))
		for _, p := range []string{home, filepath.Join(home, "docs"), filepath.Join(home, "missing"), filepath.Join(home, "etc-link"),
			filepath.Join(home, ".var", "app", "org.test.Probe"), filepath.Join(home, ".var", "app", "org.test.Probe", "new"),
			filepath.Join(home, ".var", "app", "org.other.App"), "/tmp", "/etc/passwd", "/usr", "/"} {
			if ours, theirs := both("info", "--user", "--file-access="+p, "org.test.Probe"); ours != theirs {
				t.Errorf("--file-access=%s: flatpak %q, porthole %q", p, theirs, ours)
			}
		}

		if !u.IsRoot() {
			return
		}
		for _, args := range [][]string{
			{"remote-add", "--system", "--no-gpg-verify", "test", "file://" + repo},
			{"install", "--system", "-y", "test", "org.test.Probe"},
			{"override", "--system", "--socket=wayland", "--nosocket=x11", "org.test.Probe"},
			{"override", "--system", "--talk-name=org.global"},
		} {
			if out, err := runAsEnv(t, u, home, inst, []string{"PORTHOLE_SYSTEM_DIR=" + sys}, b.porthole, args...); err != nil {
				t.Fatalf("porthole %v: %v\n%s", args, err, out)
			}
		}
		ours, err := runAsEnv(t, u, home, inst, []string{"PORTHOLE_SYSTEM_DIR=" + sys}, b.porthole, "info", "--system", "--show-permissions", "org.test.Probe")
		if err != nil {
			t.Fatal(err, ours)
		}
		_, theirs := both("info", "--system", "--show-permissions", "org.test.Probe")
		if ours != theirs {
			t.Errorf("system installation:\n--- flatpak\n%s\n--- porthole\n%s", theirs, ours)
		}
	})
}

// TestRunCommit runs the deployed commits by name (run --commit,
// --runtime-commit) like flatpak run, and refuses commits that are not
// deployed, as flatpak run does.
func TestRunCommit(t *testing.T) {
	b := needRunBins(t)
	f := needRunFixture(t)
	testenv.ForEachUser(t, func(t *testing.T, u testenv.User) {
		home := testenv.SharedTempDir(t, u)
		commit := func(name string) string {
			out, err := runAs(t, u, home, f.inst, "flatpak", "info", "--user", "--show-commit", name)
			if err != nil {
				t.Fatalf("flatpak info: %v\n%s", err, out)
			}
			return strings.TrimSpace(out)
		}
		app, rt := commit("org.test.Probe"), commit("org.test.Platform")
		sameRun(t, u, home, f.inst, b.porthole, nil, "run", "--user", "--commit="+app, "--runtime-commit="+rt, "org.test.Probe", "info")
		bad := strings.Repeat("0", 64)
		for _, a := range [][]string{
			{"run", "--user", "--commit=" + bad, "org.test.Probe"},
			{"run", "--user", "--runtime-commit=" + bad, "org.test.Probe"},
		} {
			if _, err := runAs(t, u, home, f.inst, "flatpak", a...); err == nil {
				t.Errorf("flatpak %v succeeded", a)
			}
			if out, err := runAs(t, u, home, f.inst, b.porthole, a...); err == nil || !strings.Contains(out, "not installed") {
				t.Errorf("porthole %v: %v\n%s", a, err, out)
			}
		}
	})
}

// TestRunInfoShowExtensions compares the extension blocks of `info
// --show-extensions` with flatpak's for the runtime and the app of the
// extension fixture.
func TestRunInfoShowExtensions(t *testing.T) {
	b := needRunBins(t)
	inst := needExtFixture(t)
	testenv.ForEachUser(t, func(t *testing.T, u testenv.User) {
		home := testenv.SharedTempDir(t, u)
		blocks := func(out string) string {
			if i := strings.Index(out, "\n   Extension:"); i >= 0 {
				return out[i:]
			}
			return ""
		}
		for _, name := range []string{"org.test.ExtPlatform", "org.test.ExtProbe"} {
			want, err := runAs(t, u, home, inst, "flatpak", "info", "--user", "--show-extensions", name)
			if err != nil {
				t.Fatalf("flatpak info: %v\n%s", err, want)
			}
			got, err := runAs(t, u, home, inst, b.porthole, "info", "--user", "-e", name)
			if err != nil {
				t.Fatalf("porthole info: %v\n%s", err, got)
			}
			if blocks(want) == "" || blocks(got) != blocks(want) {
				t.Errorf("%s: extensions differ:\n--- flatpak\n%s\n--- porthole\n%s", name, blocks(want), blocks(got))
			}
		}
	})
}
