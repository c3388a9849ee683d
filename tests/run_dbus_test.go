package tests

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/porthole-dev/porthole/internal/testbus"
	"github.com/porthole-dev/porthole/internal/testenv"
)

// TestRunSessionBusProxy runs the probe without the session-bus grant:
// it reaches a private bus only through the filtering proxy served by the
// sandbox's pid 1, sees only what --talk-name allows, and the bus sees a
// process whose /proc/PID/root/.flatpak-info names the app, as portals
// require.
func TestRunSessionBusProxy(t *testing.T) {
	b := needRunBins(t)
	f := needRunFixture(t)
	bus := testbus.New(t) // admits every user
	ownNames(t, bus.Conn(t), "org.test.Hidden", "org.test.Visible")
	testenv.ForEachUser(t, func(t *testing.T, u testenv.User) {
		home := testenv.SharedTempDir(t, u)
		cmd := u.Command(t, b.porthole, "run", "--user", "--talk-name=org.test.Visible", "org.test.Probe", "dbus")
		cmd.Env = testenv.WithEnv(cmd.Env, "HOME="+home, "PORTHOLE_USER_DIR="+f.inst, "PORTHOLE_SYSTEM_DIR="+filepath.Join(home, "none"),
			"DBUS_SESSION_BUS_ADDRESS="+bus.Address())
		stdin, _ := cmd.StdinPipe()
		stdout, _ := cmd.StdoutPipe()
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Wait()
		defer stdin.Close()
		got := map[string]string{}
		sc := bufio.NewScanner(stdout)
		for len(got) < 3 && sc.Scan() {
			k, v, _ := strings.Cut(sc.Text(), "=")
			got[k] = v
			if k == "dbus-error" {
				t.Fatalf("probe: %s", v)
			}
		}
		if got["dbus-names"] != "org.freedesktop.DBus,org.test.Visible" {
			t.Errorf("names seen through the proxy = %q, want org.freedesktop.DBus,org.test.Visible", got["dbus-names"])
		}
		if got["dbus-call-hidden"] != "org.freedesktop.DBus.Error.ServiceUnknown" {
			t.Errorf("call to a hidden name = %q, want ServiceUnknown", got["dbus-call-hidden"])
		}
		pid, _ := strconv.Atoi(got["dbus-pid"])
		info, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/root/.flatpak-info")
		if err != nil || !strings.Contains(string(info), "name=org.test.Probe\n") {
			t.Errorf("the bus sees pid %d, whose /.flatpak-info is %q (%v); want the app's", pid, info, err)
		}
	})
}

// TestRunSystemBusProxy: an app whose [System Bus Policy] has entries
// reaches the system bus only through a filtering proxy (it sees only the
// names its policy names), and its /.flatpak-info says system-bus-proxy.
func TestRunSystemBusProxy(t *testing.T) {
	b := needRunBins(t)
	f := needRunFixture(t)
	bus := testbus.NewSystem(t)
	ownNames(t, bus.Conn(t), "org.test.Hidden", "org.test.Visible")
	testenv.ForEachUser(t, func(t *testing.T, u testenv.User) {
		home := testenv.SharedTempDir(t, u)
		cmd := u.Command(t, b.porthole, "run", "--user", "--system-talk-name=org.test.Visible", "org.test.Probe", "sysdbus", "info")
		cmd.Env = testenv.WithEnv(cmd.Env, "HOME="+home, "PORTHOLE_USER_DIR="+f.inst, "PORTHOLE_SYSTEM_DIR="+filepath.Join(home, "none"),
			"DBUS_SYSTEM_BUS_ADDRESS="+bus.Address())
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("porthole run: %v\n%s", err, out)
		}
		for _, want := range []string{
			"sysdbus-names=org.freedesktop.DBus,org.test.Visible\n",
			"sysdbus-call-hidden=org.freedesktop.DBus.Error.ServiceUnknown\n",
			"=system-bus-proxy=true\n",
		} {
			if !strings.Contains(string(out), want) {
				t.Errorf("probe output lacks %q:\n%s", strings.TrimSpace(want), out)
			}
		}
	})
}

// ownNames has conn own names.
func ownNames(t *testing.T, conn *dbus.Conn, names ...string) {
	t.Helper()
	for _, n := range names {
		if r, err := conn.RequestName(n, dbus.NameFlagDoNotQueue); err != nil || r != dbus.RequestNameReplyPrimaryOwner {
			t.Fatalf("RequestName(%s) = %v, %v", n, r, err)
		}
	}
}
