package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// recorder captures how Require stops a test.
type recorder struct {
	testing.TB
	fatal, skip bool
}

func (r *recorder) Helper()               {}
func (r *recorder) Fatalf(string, ...any) { r.fatal = true }
func (r *recorder) Skipf(string, ...any)  { r.skip = true }
func (r *recorder) Skip(...any)           { r.skip = true }
func (r *recorder) Fatal(...any)          { r.fatal = true }

func TestRequire(t *testing.T) {
	for _, tc := range []struct {
		ci          string
		ok          bool
		fatal, skip bool
	}{
		{"true", true, false, false},
		{"", true, false, false},
		{"true", false, true, false},
		{"", false, false, true},
		{"false", false, false, true},
	} {
		t.Setenv("CI", tc.ci)
		r := &recorder{TB: t}
		Require(r, tc.ok, "why")
		if r.fatal != tc.fatal || r.skip != tc.skip {
			t.Errorf("Require(CI=%q, ok=%v): fatal=%v skip=%v, want fatal=%v skip=%v",
				tc.ci, tc.ok, r.fatal, r.skip, tc.fatal, tc.skip)
		}
	}
}

func TestProbes(t *testing.T) {
	// The probes must not panic and must be stable; their values depend on
	// the machine.
	t.Logf("root=%v dbus-daemon=%v fuse=%v userns=%v", IsRoot(), HaveDBusDaemon(), HaveFUSE(), HaveUserNS())
	fuse, userns := HaveFUSE(), HaveUserNS()
	if HaveFUSE() != fuse || HaveUserNS() != userns {
		t.Error("probes are not stable")
	}
	if !HaveCommand("sh") {
		t.Error(`HaveCommand("sh") = false, want true`)
	}
	if HaveCommand("no-such-command-porthole") {
		t.Error("HaveCommand(no-such-command) = true, want false")
	}
}

func TestWithEnv(t *testing.T) {
	got := WithEnv([]string{"A=1", "B=2", "C=3", "B=4"}, "B=x", "D=y", "C")
	want := []string{"A=1", "B=x", "D=y"}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("WithEnv (-got +want):\n%s", diff)
	}
}

func TestForEachUser(t *testing.T) {
	ForEachUser(t, func(t *testing.T, u User) {
		shared := SharedTempDir(t, u)
		out, err := u.Command(t, "sh", "-c",
			`id -u; id -g; id -G; echo "$HOME"; echo "$USER"; echo "$XDG_RUNTIME_DIR"; touch "$1/made" && touch "$XDG_RUNTIME_DIR/made"`,
			"sh", shared).CombinedOutput()
		if err != nil {
			t.Fatalf("running as %s: %v\n%s", u.Name, err, out)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) != 6 {
			t.Fatalf("output = %q, want 6 lines", out)
		}
		if got, want := lines[0], strconv.Itoa(u.UID); got != want {
			t.Errorf("uid = %s, want %s", got, want)
		}
		if got, want := lines[1], strconv.Itoa(u.GID); got != want {
			t.Errorf("gid = %s, want %s", got, want)
		}
		if IsRoot() && lines[2] != strconv.Itoa(u.GID) {
			t.Errorf("groups = %q, want only %d", lines[2], u.GID)
		}
		if lines[3] != u.Home {
			t.Errorf("HOME = %q, want %q", lines[3], u.Home)
		}
		if lines[4] != u.Name {
			t.Errorf("USER = %q, want %q", lines[4], u.Name)
		}
		rt := lines[5]
		fi, err := os.Stat(rt)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if int(st.Uid) != u.UID || fi.Mode().Perm() != 0o700 {
			t.Errorf("XDG_RUNTIME_DIR %s: uid %d mode %v, want uid %d mode 0700", rt, st.Uid, fi.Mode().Perm(), u.UID)
		}
		fi, err = os.Stat(filepath.Join(shared, "made"))
		if err != nil {
			t.Fatal(err)
		}
		if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != u.UID {
			t.Errorf("file made in SharedTempDir owned by %d, want %d", st.Uid, u.UID)
		}
	})
}

func TestAsUser(t *testing.T) {
	u := Unprivileged(t)
	cmd := exec.Command("true")
	cmd.Env = []string{"HOME=/wrong", "KEEP=1"}
	AsUser(cmd, u.UID, u.GID)
	if cmd.Err != nil {
		t.Fatal(cmd.Err)
	}
	env := strings.Join(cmd.Env, "\n")
	for _, want := range []string{"KEEP=1", "HOME=" + u.Home, "USER=" + u.Name} {
		if !strings.Contains(env, want) {
			t.Errorf("AsUser env = %q, missing %q", cmd.Env, want)
		}
	}
	if strings.Contains(env, "/wrong") {
		t.Errorf("AsUser kept the old HOME: %q", cmd.Env)
	}
	if IsRoot() {
		c := cmd.SysProcAttr.Credential
		if c == nil || int(c.Uid) != u.UID || int(c.Gid) != u.GID || c.Groups == nil || len(c.Groups) != 0 {
			t.Errorf("AsUser credential = %+v, want uid %d gid %d no groups", c, u.UID, u.GID)
		}
	}
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
}
