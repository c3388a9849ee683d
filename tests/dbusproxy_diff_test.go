package tests

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/google/go-cmp/cmp"
)

const dpIface = "org.test.Iface"

// dpService is a test service exported on the bus, directly (not through
// a proxy).
type dpService struct {
	name   string
	conn   *dbus.Conn
	unique string
}

func (s *dpService) Echo(v string) (string, *dbus.Error) { return s.name + ":" + v, nil }

func (s *dpService) Other() (string, *dbus.Error) { return s.name + ":other", nil }

// ReadFD reads the pipe the caller passed.
func (s *dpService) ReadFD(fd dbus.UnixFD) (string, *dbus.Error) {
	f := os.NewFile(uintptr(fd), "passed")
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return "", dbus.MakeFailedError(err)
	}
	return string(b), nil
}

// MakeFD returns the read end of a pipe holding content.
func (s *dpService) MakeFD(content string) (dbus.UnixFD, *dbus.Error) {
	r, w, err := os.Pipe()
	if err != nil {
		return 0, dbus.MakeFailedError(err)
	}
	w.WriteString(content)
	w.Close()
	fd, err := dpDupFD(int(r.Fd()))
	r.Close()
	if err != nil {
		return 0, dbus.MakeFailedError(err)
	}
	return dbus.UnixFD(fd), nil
}

// CallBack calls Hi on the caller (dest) and returns its answer: a peer
// that calls the client, and the client's reply going back through the
// proxy.
func (s *dpService) CallBack(dest string) (string, *dbus.Error) {
	var out string
	if err := s.conn.Object(dest, "/client").Call("org.test.Client.Hi", 0, s.name).Store(&out); err != nil {
		return "", dbus.MakeFailedError(err)
	}
	return out, nil
}

// emit sends a broadcast signal and waits until the bus has routed it.
func (s *dpService) emit(t testing.TB, path, member string) {
	t.Helper()
	if err := s.conn.Emit(dbus.ObjectPath(path), dpIface+"."+member, s.name); err != nil {
		t.Fatal(err)
	}
	dpBarrier(t, s.conn)
}

// dpBarrier waits for a round trip to the bus: everything conn sent
// before has been routed.
func dpBarrier(t testing.TB, conn *dbus.Conn) {
	t.Helper()
	if err := conn.BusObject().Call("org.freedesktop.DBus.GetId", 0).Err; err != nil {
		t.Fatal(err)
	}
}

func startDPService(t testing.TB, busAddr, name string) *dpService {
	t.Helper()
	conn, err := dbus.Connect(busAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	s := &dpService{name: name, conn: conn, unique: conn.Names()[0]}
	for _, p := range []string{"/org/test/Obj", "/org/test/Obj/Sub", "/other", "/org/freedesktop/portal/desktop"} {
		conn.Export(s, dbus.ObjectPath(p), dpIface)
		conn.Export(s, dbus.ObjectPath(p), "org.test.Other")
	}
	if name != "" {
		r, err := conn.RequestName(name, dbus.NameFlagDoNotQueue)
		if err != nil || r != dbus.RequestNameReplyPrimaryOwner {
			t.Fatalf("RequestName(%s) = %v, %v", name, r, err)
		}
	}
	return s
}

// dpClient is what the client exports, so peers can call it back.
type dpClient struct{}

func (dpClient) Hi(from string) (string, *dbus.Error) { return "hi " + from, nil }

// dpWorld is the bus, its services and the policy shared by both proxies.
type dpWorld struct {
	addr string
	svc  map[string]*dpService
	args []string
}

func (w *dpWorld) unique(name string) string { return w.svc[name].unique }

func newDPWorld(t testing.TB) *dpWorld {
	bus := dpNewBus(t)
	w := &dpWorld{addr: bus.Address(), svc: map[string]*dpService{}}
	for _, n := range []string{"org.test.Talk", "org.test.See", "org.test.Hidden", "org.test.Call",
		"org.test.Wild.One", "org.test.Own.Taken", "org.freedesktop.portal.Test"} {
		w.svc[n] = startDPService(t, w.addr, n)
	}
	w.args = []string{"--filter",
		"--see=org.test.See",
		"--talk=org.test.Talk",
		"--talk=org.test.Wild.*",
		"--own=org.test.Own.*",
		"--call=org.test.Call=org.test.Iface.Echo@/org/test/Obj/*",
		"--call=org.test.Call=org.test.Other.*",
		"--call=org.test.Call=org.test.Iface.ReadFD",
		"--broadcast=org.test.Call=org.test.Iface.Ping@/org/test/Obj",
		"--call=org.freedesktop.portal.*=*",
		"--broadcast=org.freedesktop.portal.*=@/org/freedesktop/portal/*",
	}
	return w
}

// dpOp is one client operation of the differential table.
type dpOp struct {
	name string
	want string // prefix our result must have (sanity, besides equality)
	run  func(t testing.TB, w *dpWorld, c *dbus.Conn) string
}

func dpBusCall(method string, args ...any) func(testing.TB, *dpWorld, *dbus.Conn) string {
	return func(_ testing.TB, _ *dpWorld, c *dbus.Conn) string {
		return dpCallResult(c.BusObject().Call("org.freedesktop.DBus."+method, 0, args...))
	}
}

func dpSvcCall(dest, path, method string, flags dbus.Flags, args ...any) func(testing.TB, *dpWorld, *dbus.Conn) string {
	return func(_ testing.TB, w *dpWorld, c *dbus.Conn) string {
		d := dest
		if strings.HasPrefix(d, "unique:") {
			d = w.unique(strings.TrimPrefix(d, "unique:"))
		}
		return dpCallResult(c.Object(d, dbus.ObjectPath(path)).Call(method, flags, args...))
	}
}

func dpUniqueArg(method, name string) func(testing.TB, *dpWorld, *dbus.Conn) string {
	return func(_ testing.TB, w *dpWorld, c *dbus.Conn) string {
		return dpCallResult(c.BusObject().Call("org.freedesktop.DBus."+method, 0, w.unique(name)))
	}
}

const (
	dpAccessDenied   = "err org.freedesktop.DBus.Error.AccessDenied"
	dpServiceUnknown = "err org.freedesktop.DBus.Error.ServiceUnknown"
	dpNameHasNoOwner = "err org.freedesktop.DBus.Error.NameHasNoOwner"
)

var dpOps = []dpOp{
	{"ListNames", "ok", dpBusCall("ListNames")},
	{"ListActivatableNames", "ok", dpBusCall("ListActivatableNames")},
	{"GetNameOwner hidden", dpNameHasNoOwner, dpBusCall("GetNameOwner", "org.test.Hidden")},
	{"GetNameOwner see", "ok", dpBusCall("GetNameOwner", "org.test.See")},
	{"GetNameOwner talk", "ok", dpBusCall("GetNameOwner", "org.test.Talk")},
	{"GetNameOwner wildcard", "ok", dpBusCall("GetNameOwner", "org.test.Wild.One")},
	{"GetNameOwner own subtree", "ok", dpBusCall("GetNameOwner", "org.test.Own.Taken")},
	{"GetNameOwner call-rule name", "ok", dpBusCall("GetNameOwner", "org.test.Call")},
	{"GetNameOwner portal", "ok", dpBusCall("GetNameOwner", "org.freedesktop.portal.Test")},
	{"GetNameOwner absent visible", dpNameHasNoOwner, dpBusCall("GetNameOwner", "org.test.Wild.Absent")},
	{"GetNameOwner bus", "ok", dpBusCall("GetNameOwner", "org.freedesktop.DBus")},
	{"GetNameOwner unique of hidden", dpNameHasNoOwner, dpUniqueArg("GetNameOwner", "org.test.Hidden")},
	{"GetNameOwner unique of talk", "ok", dpUniqueArg("GetNameOwner", "org.test.Talk")},
	{"NameHasOwner hidden", "ok [false]", dpBusCall("NameHasOwner", "org.test.Hidden")},
	{"NameHasOwner see", "ok [true]", dpBusCall("NameHasOwner", "org.test.See")},
	{"NameHasOwner talk", "ok [true]", dpBusCall("NameHasOwner", "org.test.Talk")},
	{"NameHasOwner wildcard", "ok [true]", dpBusCall("NameHasOwner", "org.test.Wild.One")},
	{"NameHasOwner unique of hidden", "ok [false]", dpUniqueArg("NameHasOwner", "org.test.Hidden")},
	{"NameHasOwner unique of call-rule name", "ok [true]", dpUniqueArg("NameHasOwner", "org.test.Call")},
	{"call talk", "ok", dpSvcCall("org.test.Talk", "/org/test/Obj", dpIface+".Echo", 0, "a")},
	{"call talk other path", "ok", dpSvcCall("org.test.Talk", "/other", dpIface+".Echo", 0, "a")},
	{"call see", dpAccessDenied, dpSvcCall("org.test.See", "/org/test/Obj", dpIface+".Echo", 0, "a")},
	{"call hidden", dpServiceUnknown, dpSvcCall("org.test.Hidden", "/org/test/Obj", dpIface+".Echo", 0, "a")},
	{"call hidden no-auto-start", dpNameHasNoOwner, dpSvcCall("org.test.Hidden", "/org/test/Obj", dpIface+".Echo", dbus.FlagNoAutoStart, "a")},
	{"call unique of hidden", dpNameHasNoOwner, dpSvcCall("unique:org.test.Hidden", "/org/test/Obj", dpIface+".Echo", 0, "a")},
	{"call unique of talk", "ok", dpSvcCall("unique:org.test.Talk", "/org/test/Obj", dpIface+".Echo", 0, "a")},
	{"call unique of wildcard", "ok", dpSvcCall("unique:org.test.Wild.One", "/org/test/Obj", dpIface+".Echo", 0, "a")},
	{"call wildcard", "ok", dpSvcCall("org.test.Wild.One", "/org/test/Obj", dpIface+".Echo", 0, "a")},
	{"call absent visible name", dpServiceUnknown, dpSvcCall("org.test.Wild.Absent", "/org/test/Obj", dpIface+".Echo", 0, "a")},
	{"call own subtree", "ok", dpSvcCall("org.test.Own.Taken", "/other", dpIface+".Echo", 0, "a")},
	{"call rule method+path subtree", "ok", dpSvcCall("org.test.Call", "/org/test/Obj/Sub", dpIface+".Echo", 0, "a")},
	{"call rule path subtree root", "ok", dpSvcCall("org.test.Call", "/org/test/Obj", dpIface+".Echo", 0, "a")},
	{"call rule wrong path", dpAccessDenied, dpSvcCall("org.test.Call", "/other", dpIface+".Echo", 0, "a")},
	{"call rule wrong method", dpAccessDenied, dpSvcCall("org.test.Call", "/org/test/Obj", dpIface+".Other", 0)},
	{"call rule interface wildcard", "ok", dpSvcCall("org.test.Call", "/other", "org.test.Other.Other", 0)},
	{"call rule unique name", "ok", dpSvcCall("unique:org.test.Call", "/org/test/Obj", dpIface+".Echo", 0, "a")},
	{"call rule unique name denied", dpAccessDenied, dpSvcCall("unique:org.test.Call", "/other", dpIface+".Echo", 0, "a")},
	{"call portal", "ok", dpSvcCall("org.freedesktop.portal.Test", "/org/freedesktop/portal/desktop", dpIface+".Echo", 0, "a")},
	{"RequestName own", "ok [1]", dpBusCall("RequestName", "org.test.Own.Mine", uint32(0))},
	{"RequestName own subtree root", "ok [1]", dpBusCall("RequestName", "org.test.Own", uint32(0))},
	{"RequestName own taken", "ok [3]", dpBusCall("RequestName", "org.test.Own.Taken", uint32(4))},
	{"ListQueuedOwners own", "ok", dpBusCall("ListQueuedOwners", "org.test.Own.Mine")},
	{"ReleaseName own", "ok [1]", dpBusCall("ReleaseName", "org.test.Own.Mine")},
	{"RequestName hidden", dpServiceUnknown, dpBusCall("RequestName", "org.evil.Name", uint32(0))},
	{"RequestName see", dpAccessDenied, dpBusCall("RequestName", "org.test.See", uint32(0))},
	{"RequestName talk", dpAccessDenied, dpBusCall("RequestName", "org.test.Talk", uint32(0))},
	{"ReleaseName hidden", dpServiceUnknown, dpBusCall("ReleaseName", "org.test.Hidden")},
	{"AddMatch", "ok", dpBusCall("AddMatch", "type='signal',interface='org.test.Nothing'")},
	{"RemoveMatch", "ok", dpBusCall("RemoveMatch", "type='signal',interface='org.test.Nothing'")},
	{"AddMatch eavesdrop", dpAccessDenied, dpBusCall("AddMatch", "type='signal',eavesdrop=true")},
	{"AddMatch eavesdrop spaced", dpAccessDenied, dpBusCall("AddMatch", "eavesdrop =true,type='method_call'")},
	{"BecomeMonitor", dpAccessDenied, dpBusCall("BecomeMonitor", []string{}, uint32(0))},
	{"UpdateActivationEnvironment", dpAccessDenied, dpBusCall("UpdateActivationEnvironment", map[string]string{"A": "b"})},
	{"unknown bus method", dpAccessDenied, dpBusCall("NoSuchMethod")},
	{"bus Peer.Ping", dpAccessDenied, func(_ testing.TB, _ *dpWorld, c *dbus.Conn) string {
		return dpCallResult(c.BusObject().Call("org.freedesktop.DBus.Peer.Ping", 0))
	}},
	{"bus Properties.Get", dpAccessDenied, func(_ testing.TB, _ *dpWorld, c *dbus.Conn) string {
		return dpCallResult(c.BusObject().Call("org.freedesktop.DBus.Properties.Get", 0, "org.freedesktop.DBus", "Features"))
	}},
	{"GetId", "ok", dpBusCall("GetId")},
	{"bus Introspect", "ok", func(_ testing.TB, _ *dpWorld, c *dbus.Conn) string {
		return dpCallResult(c.BusObject().Call("org.freedesktop.DBus.Introspectable.Introspect", 0))
	}},
	{"GetConnectionUnixUser see", "ok", dpBusCall("GetConnectionUnixUser", "org.test.See")},
	{"GetConnectionUnixUser hidden", dpServiceUnknown, dpBusCall("GetConnectionUnixUser", "org.test.Hidden")},
	{"GetConnectionUnixProcessID talk", "ok", dpBusCall("GetConnectionUnixProcessID", "org.test.Talk")},
	{"StartServiceByName hidden", dpServiceUnknown, dpBusCall("StartServiceByName", "org.test.Hidden", uint32(0))},
	{"StartServiceByName see", dpAccessDenied, dpBusCall("StartServiceByName", "org.test.See", uint32(0))},
	{"StartServiceByName talk (not activatable)", dpServiceUnknown, dpBusCall("StartServiceByName", "org.test.Talk", uint32(0))},
	{"fd to talk", "ok [through the pipe]", dpFDToService("org.test.Talk")},
	{"fd to call rule", "ok [through the pipe]", dpFDToService("org.test.Call")},
	{"fd to hidden", dpServiceUnknown, dpFDToService("org.test.Hidden")},
	{"fd from talk", "ok read [made by org.test.Talk]", dpFDFromService("org.test.Talk")},
	{"peer calls client (hidden peer)", "ok [hi org.test.Hidden]", dpCallBack("org.test.Hidden")},
	{"GetNameOwner unique of hidden after it called", "ok", dpUniqueArg("GetNameOwner", "org.test.Hidden")},
	{"broadcasts", "ok", dpBroadcasts},
	{"NameOwnerChanged and sticky owners", "ok", dpNameOwnerChanged},
}

func dpFDToService(name string) func(testing.TB, *dpWorld, *dbus.Conn) string {
	return func(t testing.TB, _ *dpWorld, c *dbus.Conn) string {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		w.WriteString("through the pipe")
		w.Close()
		return dpCallResult(c.Object(name, "/org/test/Obj").Call(dpIface+".ReadFD", 0, dbus.UnixFD(r.Fd())))
	}
}

func dpFDFromService(name string) func(testing.TB, *dpWorld, *dbus.Conn) string {
	return func(t testing.TB, _ *dpWorld, c *dbus.Conn) string {
		var fd dbus.UnixFD
		call := c.Object(name, "/org/test/Obj").Call(dpIface+".MakeFD", 0, "made by "+name)
		if call.Err != nil {
			return dpCallResult(call)
		}
		if err := call.Store(&fd); err != nil {
			return "fail " + err.Error()
		}
		f := os.NewFile(uintptr(fd), "received")
		defer f.Close()
		b, err := io.ReadAll(f)
		if err != nil {
			return "fail " + err.Error()
		}
		return fmt.Sprintf("ok read [%s]", b)
	}
}

func dpCallBack(name string) func(testing.TB, *dpWorld, *dbus.Conn) string {
	return func(t testing.TB, w *dpWorld, c *dbus.Conn) string {
		var out string
		if err := w.svc[name].conn.Object(c.Names()[0], "/client").Call("org.test.Client.Hi", 0, name).Store(&out); err != nil {
			return "fail " + dpNormalize(err.Error())
		}
		return fmt.Sprintf("ok [%s]", out)
	}
}

// dpCollectSignals returns the org.test signals c received up to a round
// trip through the proxy, senders named by the service that sent them.
func dpCollectSignals(t testing.TB, w *dpWorld, c *dbus.Conn, ch chan *dbus.Signal, keep func(*dbus.Signal) bool) []string {
	t.Helper()
	if err := c.BusObject().Call("org.freedesktop.DBus.GetId", 0).Err; err != nil {
		t.Fatal(err)
	}
	byUnique := map[string]string{}
	for n, s := range w.svc {
		byUnique[s.unique] = n
	}
	var got []string
	for {
		select {
		case s := <-ch:
			if !keep(s) {
				continue
			}
			sender := s.Sender
			if n, ok := byUnique[sender]; ok {
				sender = n
			}
			got = append(got, dpNormalize(fmt.Sprintf("%s %s %s %v", sender, s.Path, s.Name, s.Body)))
		default:
			sort.Strings(got)
			return got
		}
	}
}

func dpBroadcasts(t testing.TB, w *dpWorld, c *dbus.Conn) string {
	ch := make(chan *dbus.Signal, 100)
	c.Signal(ch)
	defer c.RemoveSignal(ch)
	if err := c.AddMatchSignal(dbus.WithMatchInterface(dpIface)); err != nil {
		return "fail " + err.Error()
	}
	for _, e := range []struct{ svc, path, member string }{
		{"org.test.Talk", "/org/test/Obj", "Sig"},
		{"org.test.See", "/org/test/Obj", "Sig"},
		{"org.test.Hidden", "/org/test/Obj", "Sig"},
		{"org.test.Call", "/org/test/Obj", "Ping"},
		{"org.test.Call", "/org/test/Obj/Sub", "Ping"},
		{"org.test.Call", "/org/test/Obj", "Sig"},
		{"org.test.Wild.One", "/other", "Sig"},
		{"org.test.Own.Taken", "/other", "Sig"},
		{"org.freedesktop.portal.Test", "/org/freedesktop/portal/desktop", "Sig"},
		{"org.freedesktop.portal.Test", "/org/freedesktop/portal", "Sig"},
		{"org.freedesktop.portal.Test", "/other", "Sig"},
	} {
		w.svc[e.svc].emit(t, e.path, e.member)
	}
	// A unicast signal from a hidden peer passes: only dpBroadcasts are filtered.
	h := w.svc["org.test.Hidden"]
	if err := h.conn.Emit("/org/test/Obj", dpIface+".Direct", "to "+c.Names()[0]); err != nil {
		t.Fatal(err)
	}
	msg := &dbus.Message{Type: dbus.TypeSignal, Headers: map[dbus.HeaderField]dbus.Variant{
		dbus.FieldPath:        dbus.MakeVariant(dbus.ObjectPath("/org/test/Obj")),
		dbus.FieldInterface:   dbus.MakeVariant(dpIface),
		dbus.FieldMember:      dbus.MakeVariant("Unicast"),
		dbus.FieldDestination: dbus.MakeVariant(c.Names()[0]),
	}}
	if err := h.conn.Send(msg, nil).Err; err != nil {
		t.Fatal(err)
	}
	dpBarrier(t, h.conn)
	got := dpCollectSignals(t, w, c, ch, func(*dbus.Signal) bool { return true })
	c.RemoveMatchSignal(dbus.WithMatchInterface(dpIface))
	return fmt.Sprintf("ok %q", got)
}

// dpNameOwnerChanged has helpers own and release a visible and a hidden
// name: the client hears only about the visible one, and the helper that
// owned it stays talkable by its unique name after it let it go.
func dpNameOwnerChanged(t testing.TB, w *dpWorld, c *dbus.Conn) string {
	ch := make(chan *dbus.Signal, 100)
	c.Signal(ch)
	defer c.RemoveSignal(ch)
	opt := dbus.WithMatchMember("NameOwnerChanged")
	if err := c.AddMatchSignal(opt); err != nil {
		return "fail " + err.Error()
	}
	defer c.RemoveMatchSignal(opt)
	visible := startDPService(t, w.addr, "")
	hidden := startDPService(t, w.addr, "")
	for _, h := range []struct {
		s    *dpService
		name string
	}{{visible, "org.test.Wild.Two"}, {hidden, "org.test.Hidden.Two"}} {
		if _, err := h.s.conn.RequestName(h.name, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := h.s.conn.ReleaseName(h.name); err != nil {
			t.Fatal(err)
		}
		dpBarrier(t, h.s.conn)
	}
	got := dpCollectSignals(t, w, c, ch, func(s *dbus.Signal) bool {
		return len(s.Body) > 0 && strings.HasPrefix(fmt.Sprint(s.Body[0]), "org.test.")
	})
	sticky := dpCallResult(c.Object(visible.unique, "/other").Call(dpIface+".Echo", 0, "sticky"))
	stillHidden := dpCallResult(c.Object(hidden.unique, "/other").Call(dpIface+".Echo", 0, "hidden"))
	return fmt.Sprintf("ok %q sticky=%s hidden=%s", got, sticky, stillHidden)
}

// runDPOps runs the table through one proxy, each op logged.
func runDPOps(t *testing.T, w *dpWorld, socket string) []string {
	c := dbusProxyConnect(t, socket)
	if err := c.Export(dpClient{}, "/client", "org.test.Client"); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, op := range dpOps {
		out = append(out, op.run(t, w, c))
	}
	c.Close()
	return out
}

// TestDBusProxyDifferential runs the same client operations through
// xdg-dbus-proxy and porthole dbus-proxy with the same policy on the same
// bus, and wants the same replies and errors.
func TestDBusProxyDifferential(t *testing.T) {
	xdg := dbusProxyCommand(t, "xdg")
	ours := dbusProxyCommand(t, "ours")
	w := newDPWorld(t)
	dir := t.TempDir()
	startDBusProxy(t, xdg, append([]string{w.addr, dir + "/xdg"}, w.args...)...)
	startDBusProxy(t, ours, append([]string{w.addr, dir + "/ours"}, w.args...)...)

	want := runDPOps(t, w, dir+"/xdg")
	got := runDPOps(t, w, dir+"/ours")
	if len(dpOps) < 40 {
		t.Errorf("only %d operations in the table", len(dpOps))
	}
	for i, op := range dpOps {
		if got[i] != want[i] {
			t.Errorf("%s: porthole = %s\nxdg-dbus-proxy = %s", op.name, got[i], want[i])
		}
		t.Logf("%-45s %.150s", op.name, got[i])
		if !strings.HasPrefix(got[i], op.want) {
			t.Errorf("%s: porthole = %s, want prefix %q", op.name, got[i], op.want)
		}
	}
	if t.Failed() {
		t.Log(cmp.Diff(want, got))
	}
}
