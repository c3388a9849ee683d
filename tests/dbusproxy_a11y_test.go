package tests

import (
	"fmt"
	"strings"
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/porthole-dev/porthole/launcher/dbusproxy"
)

type dpA11yRegistry struct{}

func (dpA11yRegistry) GetRegisteredEvents() (string, *dbus.Error) { return "events", nil }
func (dpA11yRegistry) Embed(s string) (string, *dbus.Error)       { return "embedded " + s, nil }
func (dpA11yRegistry) DeregisterEvent(string) *dbus.Error         { return nil }

// TestDBusProxyDifferentialA11y compares both proxies under Flatpak's
// accessibility-bus policy: --sloppy-names and call rules on one name.
func TestDBusProxyDifferentialA11y(t *testing.T) {
	xdg := dbusProxyCommand(t, "xdg")
	ours := dbusProxyCommand(t, "ours")
	bus := dpNewBus(t)
	reg := bus.Conn(t)
	if _, err := reg.RequestName("org.a11y.atspi.Registry", 0); err != nil {
		t.Fatal(err)
	}
	reg.Export(dpA11yRegistry{}, "/org/a11y/atspi/registry", "org.a11y.atspi.Registry")
	reg.Export(dpA11yRegistry{}, "/org/a11y/atspi/accessible/root", "org.a11y.atspi.Socket")
	reg.Export(dpA11yRegistry{}, "/elsewhere", "org.a11y.atspi.Socket")
	args := dbusproxy.A11yBusPolicy().Args()
	dir := t.TempDir()
	startDBusProxy(t, xdg, append([]string{bus.Address(), dir + "/xdg"}, args...)...)
	startDBusProxy(t, ours, append([]string{bus.Address(), dir + "/ours"}, args...)...)

	run := func(socket string) []string {
		c := dbusProxyConnect(t, socket)
		ch := make(chan *dbus.Signal, 100)
		c.Signal(ch)
		if err := c.AddMatchSignal(dbus.WithMatchMember("NameOwnerChanged")); err != nil {
			t.Fatal(err)
		}
		r := c.Object("org.a11y.atspi.Registry", "/org/a11y/atspi/registry")
		root := c.Object("org.a11y.atspi.Registry", "/org/a11y/atspi/accessible/root")
		out := []string{
			dpCallResult(c.BusObject().Call("org.freedesktop.DBus.ListNames", 0)),
			dpCallResult(r.Call("org.a11y.atspi.Registry.GetRegisteredEvents", 0)),
			dpCallResult(r.Call("org.a11y.atspi.Registry.DeregisterEvent", 0, "x")),
			dpCallResult(root.Call("org.a11y.atspi.Socket.Embed", 0, "me")),
			dpCallResult(c.Object("org.a11y.atspi.Registry", "/elsewhere").Call("org.a11y.atspi.Socket.Embed", 0, "me")),
			dpCallResult(c.BusObject().Call("org.freedesktop.DBus.GetNameOwner", 0, "org.a11y.atspi.Registry")),
			dpCallResult(c.BusObject().Call("org.freedesktop.DBus.RequestName", 0, "org.a11y.Mine", uint32(0))),
		}
		// A connection coming and going: with --sloppy-names the client
		// hears about unique names.
		other, err := dbus.Connect(bus.Address())
		if err != nil {
			t.Fatal(err)
		}
		other.Close()
		dpBarrier(t, reg)
		if err := c.BusObject().Call("org.freedesktop.DBus.GetId", 0).Err; err != nil {
			t.Fatal(err)
		}
		n := 0
		for done := false; !done; {
			select {
			case s := <-ch:
				if len(s.Body) == 3 && fmt.Sprint(s.Body[0]) == other.Names()[0] {
					n++
				}
			default:
				done = true
			}
		}
		out = append(out, fmt.Sprintf("NameOwnerChanged about the other connection: %d", n))
		c.Close()
		return out
	}
	want := run(dir + "/xdg")
	got := run(dir + "/ours")
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("op %d: porthole = %s\nxdg-dbus-proxy = %s", i, got[i], want[i])
		}
	}
	if !strings.HasPrefix(got[1], "ok [events]") || !strings.HasPrefix(got[2], dpAccessDenied) || got[len(got)-1] != "NameOwnerChanged about the other connection: 2" {
		t.Errorf("a11y policy results look wrong: %q", got)
	}
}
