package tests

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/porthole-dev/porthole/internal/testenv"
)

// TestRunPortholeInstalled installs the fixture app with `porthole install`
// (not flatpak) and runs it: the deployment layout porthole writes is the
// one `porthole run` reads, and the sandbox matches flatpak's run of
// flatpak's own installation but for the installation paths.
func TestRunPortholeInstalled(t *testing.T) {
	b := needRunBins(t)
	f := needRunFixture(t)
	testenv.ForEachUser(t, func(t *testing.T, u testenv.User) {
		home := testenv.SharedTempDir(t, u)
		inst := testenv.SharedTempDir(t, u)
		repo := filepath.Join(filepath.Dir(f.inst), "repo")
		for _, args := range [][]string{
			{"remote-add", "--user", "--no-gpg-verify", "test", "file://" + repo},
			{"install", "--user", "-y", "test", "org.test.Probe"},
		} {
			if out, err := runAs(t, u, home, inst, b.porthole, args...); err != nil {
				t.Fatalf("porthole %v: %v\n%s", args, err, out)
			}
		}
		ours, err := runAs(t, u, home, inst, b.porthole, "run", "--user", "org.test.Probe", "info")
		if err != nil {
			t.Fatalf("porthole run: %v\n%s", err, ours)
		}
		theirs, err := runAs(t, u, home, f.inst, "flatpak", "run", "--user", "org.test.Probe", "info")
		if err != nil {
			t.Fatalf("flatpak run: %v\n%s", err, theirs)
		}
		norm := func(s, inst string) string {
			s = strings.ReplaceAll(s, inst, "INST")
			var out []string
			for _, l := range strings.Split(s, "\n") {
				if !strings.HasPrefix(l, "Cap") && !strings.Contains(l, "per-app-dirs-ref") {
					out = append(out, l)
				}
			}
			return strings.Join(out, "\n")
		}
		if got, want := norm(ours, inst), norm(theirs, f.inst); got != want {
			t.Errorf("porthole-installed run differs from flatpak's run of its own installation:\n--- flatpak\n%s\n--- porthole\n%s", want, got)
		}
	})
}
