package tests

import (
	"testing"

	"github.com/godbus/dbus/v5"

	"github.com/porthole-dev/porthole/internal/testbus"
	"github.com/porthole-dev/porthole/internal/testenv"
)

// a11yBusService is org.a11y.Bus on the session bus: it names the
// accessibility bus.
type a11yBusService struct{ addr string }

func (s a11yBusService) GetAddress() (string, *dbus.Error) { return s.addr, nil }

// TestRunA11yBus: `porthole run` asks org.a11y.Bus for the accessibility
// bus and proxies it at /run/flatpak/at-spi-bus (AT_SPI_BUS_ADDRESS) with
// Flatpak's policy: the registry's allowed calls go through, others are
// filtered, exactly as under `flatpak run` (xdg-dbus-proxy). --no-a11y-bus
// and --sandbox leave it out.
func TestRunA11yBus(t *testing.T) {
	b := needRunBins(t)
	f := needRunFixture(t)
	testenv.RequireCommand(t, "xdg-dbus-proxy")
	testenv.ForEachUser(t, func(t *testing.T, u testenv.User) {
		session, a11y := testbus.New(t), testbus.New(t)
		sc := session.Conn(t)
		if _, err := sc.RequestName("org.a11y.Bus", 0); err != nil {
			t.Fatal(err)
		}
		sc.Export(a11yBusService{a11y.Address()}, "/org/a11y/bus", "org.a11y.Bus")
		reg := a11y.Conn(t)
		if _, err := reg.RequestName("org.a11y.atspi.Registry", 0); err != nil {
			t.Fatal(err)
		}
		reg.Export(dpA11yRegistry{}, "/org/a11y/atspi/registry", "org.a11y.atspi.Registry")

		home := testenv.SharedTempDir(t, u)
		env := []string{session.Env(), "XDG_RUNTIME_DIR=" + testenv.RuntimeDir(t, u), "AT_SPI_BUS_ADDRESS"}
		run := func(tool string, args ...string) map[string]string {
			t.Helper()
			out, err := runAsEnv(t, u, home, f.inst, env, tool, append(append([]string{"run", "--user"}, args...), "org.test.Probe", "a11y")...)
			if err != nil {
				t.Fatalf("%s run %v: %v\n%s", tool, args, err, out)
			}
			m := probeMap(out)
			for k := range m {
				if len(k) < 5 || k[:5] != "a11y-" {
					delete(m, k)
				}
			}
			return m
		}
		got := run(b.porthole)
		want := map[string]string{"a11y-address": "unix:path=/run/flatpak/at-spi-bus", "a11y-connect": "ok", "a11y-allowed": "ok events"}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s = %q, want %q", k, got[k], v)
			}
		}
		if got["a11y-filtered"] == "" || got["a11y-filtered"][:2] == "ok" {
			t.Errorf("a filtered registry call: %q", got["a11y-filtered"])
		}
		if theirs := run("flatpak"); !mapsEqual(theirs, got) {
			t.Errorf("flatpak run: %v\nporthole run: %v", theirs, got)
		}
		for _, args := range [][]string{{"--no-a11y-bus"}, {"--sandbox"}} {
			if got := run(b.porthole, args...); got["a11y-address"] != "" || got["a11y-connect"] != "error" {
				t.Errorf("%v: %v, want no accessibility bus", args, got)
			}
		}
	})
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
