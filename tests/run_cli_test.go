package tests

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/porthole-dev/porthole/internal/testenv"
)

// TestRunOverrideReadByBoth writes overrides with porthole and flatpak
// into the same installation and checks that each tool reads the other's
// file and that `porthole run` applies them.
func TestRunOverrideReadByBoth(t *testing.T) {
	b := needRunBins(t)
	f := needRunFixture(t)
	testenv.ForEachUser(t, func(t *testing.T, u testenv.User) {
		home := testenv.SharedTempDir(t, u)
		inst := testenv.SharedTempDir(t, u)
		// The fixture installation is shared; overrides go to a private
		// copy of its layout (symlinks to the deployments).
		for _, k := range []string{"app", "runtime", "repo"} {
			os.Symlink(filepath.Join(f.inst, k), filepath.Join(inst, k))
		}
		granted := testenv.SharedTempDir(t, u)
		os.WriteFile(filepath.Join(granted, "file"), []byte("x"), 0o644)
		steps := []struct {
			tool string
			args []string
		}{
			{b.porthole, []string{"override", "--user", "--filesystem=" + granted + ":ro", "--nosocket=x11", "org.test.Probe"}},
			{"flatpak", []string{"override", "--user", "--allow=devel", "--env=A=1", "org.test.Probe"}},
			{b.porthole, []string{"override", "--user", "--unset-env=B", "--talk-name=org.x.Y", "org.test.Probe"}},
		}
		for _, s := range steps {
			if out, err := runAs(t, u, home, inst, s.tool, s.args...); err != nil {
				t.Fatalf("%s %v: %v\n%s", s.tool, s.args, err, out)
			}
		}
		fp, err := runAs(t, u, home, inst, "flatpak", "override", "--user", "--show", "org.test.Probe")
		if err != nil {
			t.Fatal(err)
		}
		ph, err := runAs(t, u, home, inst, b.porthole, "override", "--user", "--show", "org.test.Probe")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(fp, ph); diff != "" {
			t.Errorf("override --show differs (-flatpak +porthole):\n%s", diff)
		}
		want := "[Context]\nsockets=!x11;\nfilesystems=" + granted + ":ro;\nfeatures=devel;\nunset-environment=B;\n\n[Session Bus Policy]\norg.x.Y=talk\n\n[Environment]\nB=\nA=1\n"
		if ph != want {
			t.Errorf("override file = %q, want %q", ph, want)
		}
		out, err := runAs(t, u, home, inst, b.porthole, "run", "--user", "org.test.Probe", "visible", filepath.Join(granted, "file"), "writable", granted)
		if err != nil {
			t.Fatalf("run: %v\n%s", err, out)
		}
		got := probeMap(out)
		if got["visible "+filepath.Join(granted, "file")] != "yes" || got["writable "+granted] != "EROFS" || got["ptrace"] != "ESRCH" {
			t.Errorf("overrides not applied: visible=%s writable=%s ptrace=%s", got["visible "+filepath.Join(granted, "file")], got["writable "+granted], got["ptrace"])
		}
		if out, err := runAs(t, u, home, inst, b.porthole, "override", "--user", "--reset", "org.test.Probe"); err != nil {
			t.Fatalf("reset: %v\n%s", err, out)
		}
		if _, err := os.Stat(filepath.Join(inst, "overrides", "org.test.Probe")); !os.IsNotExist(err) {
			t.Errorf("override file still there after --reset: %v", err)
		}
	})
}

// TestRunFilesystemGrants checks :create, :ro, negation and reserved
// paths end to end.
func TestRunFilesystemGrants(t *testing.T) {
	b := needRunBins(t)
	f := needRunFixture(t)
	testenv.ForEachUser(t, func(t *testing.T, u testenv.User) {
		home := testenv.SharedTempDir(t, u)
		base := testenv.SharedTempDir(t, u)
		os.MkdirAll(filepath.Join(base, "rw", "hidden"), 0o755)
		os.WriteFile(filepath.Join(base, "rw", "hidden", "f"), nil, 0o644)
		if u.UID != os.Getuid() {
			exec.Command("chown", "-R", strings.Join([]string{itoa(u.UID), itoa(u.GID)}, ":"), base).Run()
		}
		created := filepath.Join(home, "made", "here")
		out, err := runAs(t, u, home, f.inst, b.porthole, "run", "--user",
			"--filesystem="+filepath.Join(base, "rw"), "--nofilesystem="+filepath.Join(base, "rw", "hidden"),
			"--filesystem=~/made/here:create", "--filesystem=/usr/share:ro", "--filesystem=/run",
			"org.test.Probe",
			"visible", filepath.Join(base, "rw", "hidden", "f"), created, "/run/host/container-manager",
			"writable", filepath.Join(base, "rw"), created)
		if err != nil {
			t.Fatalf("run: %v\n%s", err, out)
		}
		got := probeMap(out)
		for k, want := range map[string]string{
			"visible " + filepath.Join(base, "rw", "hidden", "f"): "no",
			"visible " + created:                    "yes",
			"visible /run/host/container-manager":   "yes",
			"writable " + filepath.Join(base, "rw"): "ok",
			"writable " + created:                   "ok",
		} {
			if got[k] != want {
				t.Errorf("%s = %q, want %q", k, got[k], want)
			}
		}
		if fi, err := os.Stat(created); err != nil || !fi.IsDir() {
			t.Errorf(":create did not make %s on the host: %v", created, err)
		}
	})
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestRunPsEnterKillExit drives ps, enter and kill against a running
// sandbox and checks exit statuses, as root and as an ordinary user.
func TestRunPsEnterKillExit(t *testing.T) {
	b := needRunBins(t)
	testenv.ForEachUser(t, func(t *testing.T, u testenv.User) {
		home := testenv.SharedTempDir(t, u)
		rundir := testenv.RuntimeDir(t, u)
		cmd := func(args ...string) *exec.Cmd {
			c := u.Command(t, b.porthole, args...)
			c.Env = testenv.WithEnv(c.Env, "HOME="+home, "XDG_RUNTIME_DIR="+rundir, "PORTHOLE_USER_DIR="+filepath.Join(home, "inst"), "PORTHOLE_SYSTEM_DIR="+filepath.Join(home, "sys"))
			c.Dir = home
			return c
		}
		run := []string{"run", "--app-path=/usr/share", "--usr-path=/usr", "--command=sh", "org.test.Shell"}
		// Exit status and signals pass through.
		if err := cmd(append(run, "-c", "exit 5")...).Run(); exitCode(err) != 5 {
			t.Errorf("exit 5: got %v", err)
		}
		if err := cmd(append(run, "-c", "kill -KILL $$")...).Run(); exitCode(err) != 128+9 {
			t.Errorf("killed: got %v, want exit %d", err, 128+9)
		}
		// A long-running instance.
		long := cmd(append(run, "-c", "echo started > /tmp/mark; echo ready; exec sleep 60")...)
		stdout, _ := long.StdoutPipe()
		if err := long.Start(); err != nil {
			t.Fatal(err)
		}
		defer long.Process.Kill()
		if line, _ := bufio.NewReader(stdout).ReadString('\n'); line != "ready\n" {
			t.Fatalf("instance did not start: %q", line)
		}
		ps, err := cmd("ps", "--columns=application,runtime").Output()
		// flatpak ps reads the same instance directories.
		if testenv.HaveCommand("flatpak") {
			fc := u.Command(t, "flatpak", "ps", "--columns=application,runtime")
			fc.Env = testenv.WithEnv(fc.Env, "HOME="+home, "XDG_RUNTIME_DIR="+rundir)
			if fps, err := fc.Output(); err != nil || string(fps) != string(ps) {
				t.Errorf("flatpak ps = %q, %v; want %q", fps, err, ps)
			}
		}
		if err != nil || !strings.Contains(string(ps), "org.test.Shell\torg.porthole.Host\n") {
			t.Errorf("ps = %q, %v", ps, err)
		}
		out, err := cmd("enter", "org.test.Shell", "sh", "-c", "cat /tmp/mark; echo $FLATPAK_ID; exit 3").Output()
		if exitCode(err) != 3 || string(out) != "started\norg.test.Shell\n" {
			t.Errorf("enter = %q, %v; want the instance's /tmp and exit 3", out, err)
		}
		if err := cmd("kill", "org.test.Shell").Run(); err != nil {
			t.Errorf("kill: %v", err)
		}
		done := make(chan error, 1)
		go func() { done <- long.Wait() }()
		select {
		case err := <-done:
			if exitCode(err) != 128+int(syscall.SIGKILL) {
				t.Errorf("killed instance exit = %v, want %d", err, 128+int(syscall.SIGKILL))
			}
		case <-time.After(20 * time.Second):
			t.Fatal("instance still running after kill")
		}
		if ps, _ := cmd("ps").Output(); len(ps) != 0 {
			t.Errorf("ps after kill = %q, want empty", ps)
		}
	})
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}
