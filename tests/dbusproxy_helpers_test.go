package tests

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/porthole-dev/porthole/internal/testbus"
	"github.com/porthole-dev/porthole/internal/testenv"
)

// dbusProxyPorthole builds cmd/porthole and, next to it, the pure-Go
// cmd/porthole-dbus-proxy that `porthole dbus-proxy` hands over to (as
// `make` does), once per test binary, into one shared directory under the
// temp dir (each built aside, then renamed over, so that concurrent test
// processes never exec a half-written file and runs leave no binaries
// behind). It returns the porthole binary.
// With PORTHOLE_BIN set (make test, bench/dbusproxy.sh), the binaries
// there are used, as users get them from make.
var dbusProxyPorthole = sync.OnceValues(func() (string, error) {
	if dir := os.Getenv("PORTHOLE_BIN"); dir != "" {
		return filepath.Join(dir, "porthole"), nil
	}
	dir := filepath.Join(os.TempDir(), "porthole-dbusproxy-test")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	for _, name := range []string{"porthole-dbus-proxy", "porthole"} {
		tmp, err := os.CreateTemp(dir, name+"-*")
		if err != nil {
			return "", err
		}
		tmp.Close()
		defer os.Remove(tmp.Name())
		cmd := exec.Command("go", "build", "-o", tmp.Name(), "github.com/porthole-dev/porthole/cmd/"+name)
		if name == "porthole-dbus-proxy" {
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("go build %s: %v\n%s", name, err, out)
		}
		if err := os.Rename(tmp.Name(), filepath.Join(dir, name)); err != nil {
			return "", err
		}
	}
	return filepath.Join(dir, "porthole"), nil
})

// dbusProxyCommand returns the command line prefix of a proxy under test:
// "ours" (porthole dbus-proxy) or "xdg" (xdg-dbus-proxy).
func dbusProxyCommand(t testing.TB, which string) []string {
	t.Helper()
	if which == "xdg" {
		testenv.Require(t, testenv.HaveCommand("xdg-dbus-proxy"), "needs xdg-dbus-proxy")
		p, _ := exec.LookPath("xdg-dbus-proxy")
		return []string{p}
	}
	bin, err := dbusProxyPorthole()
	if err != nil {
		t.Fatal(err)
	}
	return []string{bin, "dbus-proxy"}
}

// startDBusProxy runs a proxy with args (ADDRESS PATH … groups) and --fd=3,
// waits for its 'x' and stops it at cleanup by closing the pipe, as
// Flatpak does.
func startDBusProxy(t testing.TB, cmdline []string, args ...string) *exec.Cmd {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(cmdline[0], append(append(cmdline[1:], "--fd=3"), args...)...)
	cmd.ExtraFiles = []*os.File{w}
	cmd.Stderr = &dbusProxyLog{t: t}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	var b [1]byte
	if n, err := r.Read(b[:]); n != 1 || b[0] != 'x' {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("%s did not signal readiness: %v", cmdline[0], err)
	}
	t.Cleanup(func() {
		r.Close() // the proxy sees the hang-up and exits
		if err := cmd.Wait(); err != nil {
			t.Errorf("%s: %v", cmdline[0], err)
		}
	})
	return cmd
}

// dbusProxyLog copies a proxy's stderr into the test log.
type dbusProxyLog struct{ t testing.TB }

func (l *dbusProxyLog) Write(p []byte) (int, error) {
	l.t.Logf("proxy: %s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// dbusProxyConnect connects to a proxy socket (auth + Hello through it).
func dbusProxyConnect(t testing.TB, socket string, opts ...dbus.ConnOption) *dbus.Conn {
	t.Helper()
	c, err := dbus.Connect("unix:path="+socket, opts...)
	if err != nil {
		t.Fatalf("connecting through proxy %s: %v", socket, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

var dpUniqueRE = regexp.MustCompile(`:1\.[0-9]+`)

// dpNormalize replaces unique names, which differ between runs.
func dpNormalize(s string) string { return dpUniqueRE.ReplaceAllString(s, ":1.N") }

// dpCallResult renders the outcome of a call for comparison.
func dpCallResult(c *dbus.Call) string {
	if c.Err != nil {
		if e, ok := c.Err.(dbus.Error); ok {
			return dpNormalize(fmt.Sprintf("err %s %v", e.Name, e.Body))
		}
		return "fail " + c.Err.Error()
	}
	body := c.Body
	if len(body) == 1 {
		if names, ok := body[0].([]string); ok {
			names = append([]string(nil), names...)
			for i := range names {
				names[i] = dpNormalize(names[i])
			}
			sort.Strings(names)
			return fmt.Sprintf("ok [%v]", names)
		}
	}
	return dpNormalize(fmt.Sprintf("ok %v", body))
}

// dpNewBus starts a private bus for the proxy tests.
func dpNewBus(t testing.TB) *testbus.Bus {
	t.Helper()
	return testbus.New(t)
}
