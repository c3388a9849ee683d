package launcher

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/porthole-dev/porthole/internal/testenv"
)

func TestMain(m *testing.M) {
	MaybeInit()
	if os.Getenv("PORTHOLE_LAUNCHER_TEST_CHILD") != "" {
		// Re-exec'd as another user by forEachUser: run the named test only.
	}
	os.Exit(m.Run())
}

// hostSpec returns a Spec using the host's /usr as the runtime.
func hostSpec(uid, gid int, args ...string) *Spec {
	home := "/home/test"
	return &Spec{
		Args: args,
		Env:  []string{"PATH=/usr/bin:/bin", "HOME=" + home},
		UID:  uid, GID: gid,
		Mounts: []Mount{
			{Type: ROBind, Source: "/usr", Dest: "/usr"},
			{Type: Symlink, Source: "usr/bin", Dest: "/bin"},
			{Type: Symlink, Source: "usr/lib", Dest: "/lib"},
			{Type: Symlink, Source: "usr/lib64", Dest: "/lib64"},
			{Type: Symlink, Source: "usr/sbin", Dest: "/sbin"},
			{Type: Proc, Dest: "/proc"},
			{Type: Dev, Dest: "/dev"},
			{Type: Dir, Dest: "/tmp", Mode: 0o1777},
			{Type: Dir, Dest: "/run/user/" + strconv.Itoa(uid), Mode: 0o700},
			{Type: Symlink, Source: "../run", Dest: "/var/run"},
			{Type: ROBind, Source: "/etc/ld.so.cache", Dest: "/etc/ld.so.cache", Optional: true},
			{Type: File, Dest: "/etc/passwd", Data: []byte("u:x:" + strconv.Itoa(uid) + ":" + strconv.Itoa(gid) + "::" + home + ":/bin/sh\n"), ReadOnly: true},
			{Type: File, Dest: "/.flatpak-info", Data: []byte("[Application]\nname=org.test.App\n"), Mode: 0o600, ReadOnly: true},
			{Type: Dir, Dest: home},
		},
	}
}

func run(t *testing.T, spec *Spec) (string, int) {
	t.Helper()
	var out bytes.Buffer
	code, err := Run(context.Background(), spec, Options{InitPath: os.Args[0], Stdout: &out, Stderr: &out})
	if err != nil {
		t.Fatalf("Run(%v): %v\n%s", spec.Args, err, out.String())
	}
	return out.String(), code
}

func TestValidate(t *testing.T) {
	good := hostSpec(0, 0, "true")
	if err := good.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	for name, mut := range map[string]func(s *Spec){
		"no args":      func(s *Spec) { s.Args = nil },
		"relative":     func(s *Spec) { s.Mounts[0].Dest = "usr" },
		"unclean":      func(s *Spec) { s.Mounts[0].Dest = "/usr/../etc" },
		"bad type":     func(s *Spec) { s.Mounts[0].Type = "overlay" },
		"no proc":      func(s *Spec) { s.Mounts = s.Mounts[:1] },
		"bind root":    func(s *Spec) { s.Mounts[0].Dest = "/" },
		"env no equal": func(s *Spec) { s.Env = []string{"FOO"} },
	} {
		s := hostSpec(0, 0, "true")
		mut(s)
		if err := s.Validate(); !errors.Is(err, ErrInvalidSpec) {
			t.Errorf("%s: Validate() = %v, want ErrInvalidSpec", name, err)
		}
	}
}

func TestRunBasics(t *testing.T) {
	testenv.RequireUserNS(t)
	uid, gid := os.Getuid(), os.Getgid()
	script := `set -e
echo uid=$(id -u)
grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status | tr -d '\t'
echo pid=$$
echo init=$(tr '\0' ' ' < /proc/1/cmdline | cut -d' ' -f2)
ls /
touch /usr/x 2>/dev/null && echo usr-writable || echo usr-ro
touch /.flatpak-info 2>/dev/null && echo info-writable || echo info-ro
cat /.flatpak-info
test -e /home/test && echo home-ok
exit 7`
	out, code := run(t, hostSpec(uid, gid, "sh", "-c", script))
	if code != 7 {
		t.Errorf("exit code = %d, want 7\n%s", code, out)
	}
	for _, want := range []string{"uid=" + strconv.Itoa(uid), "CapEff:0000000000000000", "NoNewPrivs:1", "Seccomp:2", "usr-ro", "info-ro", "name=org.test.App", "home-ok"} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "pid=1\n") || !strings.Contains(out, "init=__porthole_init\n") {
		t.Errorf("the sandbox should see only pid 1 and the command:\n%s", out)
	}
}

func TestExitStatusAndSignals(t *testing.T) {
	testenv.RequireUserNS(t)
	_, code := run(t, hostSpec(os.Getuid(), os.Getgid(), "sh", "-c", "kill -TERM $$"))
	if code != 128+int(syscall.SIGTERM) {
		t.Errorf("killed command: exit code = %d, want %d", code, 128+int(syscall.SIGTERM))
	}
	// A signal sent to the launcher's child (pid 1) is forwarded.
	r, w, _ := os.Pipe()
	p, err := Start(context.Background(), hostSpec(os.Getuid(), os.Getgid(), "sh", "-c", "trap 'exit 42' USR1; echo ready; while :; do sleep 0.05; done"), Options{InitPath: os.Args[0], Stdout: w, Stderr: os.Stderr})
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	io.ReadFull(r, buf)
	p.Signal(syscall.SIGUSR1)
	code, err = p.Wait()
	if err != nil || code != 42 {
		t.Errorf("Wait() = %d, %v; want 42", code, err)
	}
}

func TestStartErrors(t *testing.T) {
	testenv.RequireUserNS(t)
	_, err := Run(context.Background(), hostSpec(os.Getuid(), os.Getgid(), "no-such-command"), Options{InitPath: os.Args[0]})
	var ie *InitError
	if !errors.As(err, &ie) || !errors.Is(err, syscall.ENOENT) {
		t.Errorf("missing command: err = %v, want InitError with ENOENT", err)
	}
	s := hostSpec(os.Getuid(), os.Getgid(), "true")
	s.Mounts = append(s.Mounts, Mount{Type: ROBind, Source: "/nonexistent", Dest: "/x"})
	_, err = Run(context.Background(), s, Options{InitPath: os.Args[0]})
	if !errors.As(err, &ie) || ie.Stage != "init" {
		t.Errorf("missing bind source: err = %v, want an init-stage InitError", err)
	}
}

func TestEnter(t *testing.T) {
	testenv.RequireUserNS(t)
	dir := t.TempDir()
	s := hostSpec(os.Getuid(), os.Getgid(), "sh", "-c", "echo marker > /tmp/m; echo ready; exec sleep 30")
	s.InstanceDir = dir
	r, w, _ := os.Pipe()
	p, err := Start(context.Background(), s, Options{InitPath: os.Args[0], Stdout: w, Stderr: os.Stderr})
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Wait()
	defer p.Signal(syscall.SIGKILL)
	buf := make([]byte, 6)
	io.ReadFull(r, buf)
	outR, outW, _ := os.Pipe()
	devnull, _ := os.Open(os.DevNull)
	defer devnull.Close()
	code, err := Enter(context.Background(), dir, EnterRequest{Args: []string{"sh", "-c", "cat /tmp/m; echo pid=$$; grep NoNewPrivs /proc/self/status | tr -d '\t'; exit 3"}}, devnull, outW, outW)
	outW.Close()
	out, _ := io.ReadAll(outR)
	if err != nil || code != 3 {
		t.Fatalf("Enter = %d, %v; want 3\n%s", code, err, out)
	}
	if !strings.Contains(string(out), "marker\n") || !strings.Contains(string(out), "NoNewPrivs:1") || strings.Contains(string(out), "pid=1\n") {
		t.Errorf("enter output:\n%s", out)
	}
}

// TestAsUnprivileged re-runs this package's sandbox tests as the
// unprivileged test user when running as root.
func TestAsUnprivileged(t *testing.T) {
	if !testenv.IsRoot() {
		t.Skip("already unprivileged")
	}
	testenv.RequireUserNS(t)
	u := testenv.Unprivileged(t)
	dir := testenv.SharedTempDir(t, u)
	bin := filepath.Join(dir, "launcher.test")
	data, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := u.Command(t, bin, "-test.run=^(TestRunBasics|TestExitStatusAndSignals|TestStartErrors|TestEnter)$", "-test.v")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("as %s: %v\n%s", u.Name, err, out)
	}
	if !strings.Contains(string(out), "PASS") || strings.Contains(string(out), "SKIP") {
		t.Errorf("as %s:\n%s", u.Name, out)
	}
	t.Logf("as %s:\n%s", u.Name, out)
	_ = exec.ErrNotFound
}
