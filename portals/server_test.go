package portals

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/google/go-cmp/cmp"
	"github.com/porthole-dev/porthole/internal/testbus"
)

const testBackendName = "org.freedesktop.impl.portal.Test"

// env is a Getenv backed by a map.
func env(m map[string]string) Env { return func(k string) string { return m[k] } }

// fakeFileChooser speaks org.freedesktop.impl.portal.FileChooser. With
// block set, OpenFile waits until its impl Request is closed.
type fakeFileChooser struct {
	conn  *dbus.Conn
	block bool

	mu      sync.Mutex
	uris    []string
	appIDs  []string
	options []map[string]dbus.Variant
	started chan dbus.ObjectPath
	closed  chan dbus.ObjectPath
}

type fakeImplRequest struct {
	f      *fakeFileChooser
	handle dbus.ObjectPath
	done   chan struct{}
	once   sync.Once
}

func (r *fakeImplRequest) Close() *dbus.Error {
	r.once.Do(func() { close(r.done) })
	r.f.closed <- r.handle
	return nil
}

func (f *fakeFileChooser) OpenFile(handle dbus.ObjectPath, appID, parent, title string, opts map[string]dbus.Variant) (uint32, map[string]dbus.Variant, *dbus.Error) {
	f.mu.Lock()
	f.appIDs = append(f.appIDs, appID)
	f.options = append(f.options, opts)
	f.mu.Unlock()
	if f.block {
		r := &fakeImplRequest{f: f, handle: handle, done: make(chan struct{})}
		_ = f.conn.Export(r, handle, "org.freedesktop.impl.portal.Request")
		f.started <- handle
		<-r.done
		_ = f.conn.Export(nil, handle, "org.freedesktop.impl.portal.Request")
		return 2, map[string]dbus.Variant{}, nil
	}
	f.mu.Lock()
	uris := f.uris
	f.mu.Unlock()
	return 0, map[string]dbus.Variant{
		"uris":    dbus.MakeVariant(uris),
		"choices": dbus.MakeVariant([]struct{ ID, Value string }{{"encoding", "utf8"}}),
	}, nil
}

func (f *fakeFileChooser) SaveFile(handle dbus.ObjectPath, appID, parent, title string, opts map[string]dbus.Variant) (uint32, map[string]dbus.Variant, *dbus.Error) {
	return f.OpenFile(handle, appID, parent, title, opts)
}

func (f *fakeFileChooser) lastAppID() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.appIDs) == 0 {
		return "<none>"
	}
	return f.appIDs[len(f.appIDs)-1]
}

// fakeSettings speaks org.freedesktop.impl.portal.Settings.
type fakeSettings struct {
	values map[string]map[string]dbus.Variant
}

func (s *fakeSettings) ReadAll(ns []string) (map[string]map[string]dbus.Variant, *dbus.Error) {
	return s.values, nil
}

func (s *fakeSettings) Read(ns, key string) (dbus.Variant, *dbus.Error) {
	if v, ok := s.values[ns][key]; ok {
		return v, nil
	}
	return dbus.Variant{}, dbus.NewError("org.freedesktop.portal.Error.NotFound", []any{"no"})
}

// harness is a private bus with a portal dir, backends and a frontend.
type harness struct {
	t      *testing.T
	bus    *testbus.Bus
	dir    string
	env    map[string]string
	srv    *Server
	fc     *fakeFileChooser
	client *dbus.Conn
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, bus: testbus.New(t), dir: t.TempDir()}
	h.env = map[string]string{
		"XDG_DESKTOP_PORTAL_DIR": h.dir,
		"XDG_CURRENT_DESKTOP":    "test",
		"HOME":                   t.TempDir(),
	}
	return h
}

// addBackend exports objs (impl interface → object) under name and writes
// NAME.portal.
func (h *harness) addBackend(portal, name string, objs map[string]any) *dbus.Conn {
	h.t.Helper()
	conn := h.bus.Conn(h.t)
	var ifaces string
	for iface, o := range objs {
		if err := conn.Export(o, DesktopPath, iface); err != nil {
			h.t.Fatal(err)
		}
		ifaces += iface + ";"
	}
	if r, err := conn.RequestName(name, dbus.NameFlagDoNotQueue); err != nil || r != dbus.RequestNameReplyPrimaryOwner {
		h.t.Fatalf("RequestName(%s) = %v, %v", name, r, err)
	}
	data := "[portal]\nDBusName=" + name + "\nInterfaces=" + ifaces + "\n"
	if err := os.WriteFile(filepath.Join(h.dir, portal+".portal"), []byte(data), 0o644); err != nil {
		h.t.Fatal(err)
	}
	return conn
}

func (h *harness) addFileChooser(block bool) {
	h.t.Helper()
	h.fc = &fakeFileChooser{block: block, uris: []string{"file:///tmp/a.txt", "http://example.com/x"},
		started: make(chan dbus.ObjectPath, 16), closed: make(chan dbus.ObjectPath, 16)}
	h.fc.conn = h.addBackend("test", testBackendName, map[string]any{implPrefix + "FileChooser": h.fc})
}

func (h *harness) writeConf(data string) {
	h.t.Helper()
	if err := os.WriteFile(filepath.Join(h.dir, "test-portals.conf"), []byte(data), 0o644); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) start() {
	h.t.Helper()
	srv, err := New(context.Background(), Options{Address: h.bus.Address(), SystemAddress: "-", Getenv: env(h.env)})
	if err != nil {
		h.t.Fatalf("New() = %v", err)
	}
	h.srv = srv
	h.t.Cleanup(func() { srv.Close() })
	h.client = h.bus.Conn(h.t)
}

func (h *harness) portal() dbus.BusObject { return h.client.Object(BusName, DesktopPath) }

// subscribe returns a channel receiving Response signals of the client.
func subscribe(t *testing.T, conn *dbus.Conn) chan *dbus.Signal {
	t.Helper()
	if err := conn.AddMatchSignal(dbus.WithMatchInterface("org.freedesktop.portal.Request"), dbus.WithMatchMember("Response")); err != nil {
		t.Fatal(err)
	}
	ch := make(chan *dbus.Signal, 16)
	conn.Signal(ch)
	return ch
}

func expectedHandle(conn *dbus.Conn, token string) dbus.ObjectPath {
	return dbus.ObjectPath(requestBase + escapeSender(conn.Names()[0]) + "/" + token)
}

// waitEmpty blocks until the server has no exported requests/sessions and
// no callers; NameOwnerChanged handling is asynchronous, so it waits for
// a round trip through the server each time around.
func (h *harness) waitEmpty(callers int) {
	h.t.Helper()
	for i := 0; ; i++ {
		if len(h.srv.ExportedObjects()) == 0 && h.srv.CallerCount() == callers {
			return
		}
		if i > 2000 {
			h.t.Fatalf("objects left: %v, callers: %d", h.srv.ExportedObjects(), h.srv.CallerCount())
		}
		// A call through the bus to the server orders us after pending signals.
		_ = h.srv.Conn().BusObject().Call("org.freedesktop.DBus.GetId", 0).Err
	}
}

func TestRequestResponseFlow(t *testing.T) {
	h := newHarness(t)
	h.addFileChooser(false)
	h.writeConf("[preferred]\ndefault=test;\n")
	h.env["XDG_DESKTOP_PORTAL_TEST_APP_ID"] = "org.example.Test"
	h.start()
	sigs := subscribe(t, h.client)

	var handle dbus.ObjectPath
	opts := map[string]dbus.Variant{"handle_token": dbus.MakeVariant("tok1"), "multiple": dbus.MakeVariant(true), "unknown": dbus.MakeVariant(1)}
	if err := h.portal().Call(portalIface+"FileChooser.OpenFile", 0, "", "Pick", opts).Store(&handle); err != nil {
		t.Fatalf("OpenFile() = %v", err)
	}
	if want := expectedHandle(h.client, "tok1"); handle != want {
		t.Fatalf("OpenFile() handle = %s, want %s", handle, want)
	}
	sig := <-sigs
	if sig.Path != handle {
		t.Fatalf("Response on %s, want %s", sig.Path, handle)
	}
	code := sig.Body[0].(uint32)
	results := sig.Body[1].(map[string]dbus.Variant)
	if code != 0 {
		t.Fatalf("Response code = %d, want 0", code)
	}
	if diff := cmp.Diff([]string{"file:///tmp/a.txt"}, results["uris"].Value()); diff != "" {
		t.Errorf("uris (-want +got):\n%s", diff)
	}
	if got := results["choices"].Signature().String(); got != "a(ss)" {
		t.Errorf("choices signature = %s, want a(ss)", got)
	}
	if got := h.fc.lastAppID(); got != "org.example.Test" {
		t.Errorf("backend app_id = %q, want org.example.Test", got)
	}
	h.fc.mu.Lock()
	fwd := h.fc.options[0]
	h.fc.mu.Unlock()
	if _, ok := fwd["handle_token"]; ok {
		t.Errorf("handle_token forwarded to backend: %v", fwd)
	}
	if _, ok := fwd["unknown"]; ok {
		t.Errorf("unknown option forwarded to backend: %v", fwd)
	}
	h.waitEmpty(1)
}

func TestRequestClose(t *testing.T) {
	h := newHarness(t)
	h.addFileChooser(true)
	h.writeConf("[preferred]\ndefault=test;\n")
	h.start()
	sigs := subscribe(t, h.client)

	var handle dbus.ObjectPath
	if err := h.portal().Call(portalIface+"FileChooser.OpenFile", 0, "", "Pick", map[string]dbus.Variant{}).Store(&handle); err != nil {
		t.Fatalf("OpenFile() = %v", err)
	}
	if want := expectedHandle(h.client, "t"); handle != want {
		t.Fatalf("handle = %s, want %s", handle, want)
	}
	if got := <-h.fc.started; got != handle {
		t.Fatalf("backend got handle %s, want %s", got, handle)
	}
	// Another connection may not close it.
	other := h.bus.Conn(t)
	err := other.Object(BusName, handle).Call("org.freedesktop.portal.Request.Close", 0).Err
	var de dbus.Error
	if !errors.As(err, &de) || de.Name != "org.freedesktop.DBus.Error.AccessDenied" {
		t.Fatalf("Close() by a stranger = %v, want AccessDenied", err)
	}
	if err := h.client.Object(BusName, handle).Call("org.freedesktop.portal.Request.Close", 0).Err; err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if got := <-h.fc.closed; got != handle {
		t.Fatalf("impl Request.Close on %s, want %s", got, handle)
	}
	h.waitEmpty(1)
	// A later method call orders us after any Response the server sent.
	_ = h.portal().Call(portalIface+"Settings.ReadAll", 0, []string{}).Err
	select {
	case s := <-sigs:
		t.Fatalf("Response after Close: %v", s)
	default:
	}
}

func TestCallerVanishes(t *testing.T) {
	h := newHarness(t)
	h.addFileChooser(true)
	h.writeConf("[preferred]\ndefault=test;\n")
	h.start()
	const n = 10
	for i := 0; i < n; i++ {
		c, err := dbus.Connect(h.bus.Address())
		if err != nil {
			t.Fatal(err)
		}
		var handle dbus.ObjectPath
		if err := c.Object(BusName, DesktopPath).Call(portalIface+"FileChooser.OpenFile", 0, "", "", map[string]dbus.Variant{}).Store(&handle); err != nil {
			t.Fatalf("OpenFile() = %v", err)
		}
		<-h.fc.started
		c.Close()
		if got := <-h.fc.closed; got != handle {
			t.Fatalf("impl Close on %s, want %s", got, handle)
		}
	}
	h.waitEmpty(0)
}

func TestInvalidOptions(t *testing.T) {
	h := newHarness(t)
	h.addFileChooser(false)
	h.writeConf("[preferred]\ndefault=test;\n")
	h.start()
	for _, opts := range []map[string]dbus.Variant{
		{"multiple": dbus.MakeVariant("yes")},
		{"handle_token": dbus.MakeVariant(uint32(3))},
		{"handle_token": dbus.MakeVariant("bad-token")},
		{"filters": dbus.MakeVariant([]string{"x"})},
		{"choices": dbus.MakeVariant([]struct {
			A, B string
			C    [][]string
			D    string
		}{{"", "l", nil, ""}})},
	} {
		err := h.portal().Call(portalIface+"FileChooser.OpenFile", 0, "", "", opts).Err
		var de dbus.Error
		if !errors.As(err, &de) || de.Name != errorPrefix+"InvalidArgument" {
			t.Errorf("OpenFile(%v) = %v, want InvalidArgument", opts, err)
		}
	}
	h.waitEmpty(1)
}

func TestSettingsMerge(t *testing.T) {
	h := newHarness(t)
	s1 := &fakeSettings{values: map[string]map[string]dbus.Variant{
		"org.freedesktop.appearance": {"color-scheme": dbus.MakeVariant(uint32(1)), "accent-color": dbus.MakeVariant(struct{ R, G, B float64 }{0, 0.1, 0.33})},
	}}
	s2 := &fakeSettings{values: map[string]map[string]dbus.Variant{
		"org.freedesktop.appearance": {"color-scheme": dbus.MakeVariant(uint32(2)), "contrast": dbus.MakeVariant(uint32(0))},
		"org.example.custom":         {"foo": dbus.MakeVariant("bar")},
	}}
	h.addBackend("one", "org.freedesktop.impl.portal.One", map[string]any{implSettings: s1})
	h.addBackend("two", "org.freedesktop.impl.portal.Two", map[string]any{implSettings: s2})
	h.writeConf("[preferred]\ndefault=none;\norg.freedesktop.impl.portal.Settings=one;two;\n")
	h.start()

	call := h.portal().Call(portalIface+"Settings.ReadAll", 0, []string{})
	if call.Err != nil {
		t.Fatal(call.Err)
	}
	got := call.Body[0].(map[string]map[string]dbus.Variant)
	flat := map[string]string{}
	for ns, kv := range got {
		for k, v := range kv {
			flat[ns+"/"+k] = v.String()
		}
	}
	want := map[string]string{
		"org.freedesktop.appearance/color-scheme": "@u 1",
		"org.freedesktop.appearance/accent-color": "@(ddd) [0, 0.1, 0.33]",
		"org.freedesktop.appearance/contrast":     "@u 0",
		"org.example.custom/foo":                  `"bar"`,
	}
	if diff := cmp.Diff(want, flat); diff != "" {
		t.Errorf("ReadAll (-want +got):\n%s", diff)
	}
	call = h.portal().Call(portalIface+"Settings.ReadOne", 0, "org.freedesktop.appearance", "contrast")
	if call.Err != nil || call.Body[0].(dbus.Variant).String() != "@u 0" {
		t.Errorf("ReadOne(contrast) = %v, %v", call.Body, call.Err)
	}
	call = h.portal().Call(portalIface+"Settings.Read", 0, "org.freedesktop.appearance", "color-scheme")
	if call.Err != nil || call.Body[0].(dbus.Variant).Signature().String() != "v" {
		t.Errorf("Read(color-scheme) = %v, %v; want a variant in a variant", call.Body, call.Err)
	}
	err := h.portal().Call(portalIface+"Settings.ReadOne", 0, "org.example.custom", "nope").Err
	var de dbus.Error
	if !errors.As(err, &de) || de.Name != errorPrefix+"NotFound" {
		t.Errorf("ReadOne(missing) = %v, want NotFound", err)
	}
}

func TestPortalsNeedBackends(t *testing.T) {
	h := newHarness(t)
	h.writeConf("[preferred]\ndefault=test;\n")
	h.start()
	err := h.portal().Call(portalIface+"FileChooser.OpenFile", 0, "", "", map[string]dbus.Variant{}).Err
	var de dbus.Error
	if !errors.As(err, &de) || de.Name != "org.freedesktop.DBus.Error.UnknownInterface" {
		t.Errorf("OpenFile() without backend = %v, want UnknownInterface", err)
	}
	var v dbus.Variant
	if err := h.portal().Call("org.freedesktop.DBus.Properties.Get", 0, portalIface+"NetworkMonitor", "version").Store(&v); err != nil || v.Value() != uint32(3) {
		t.Errorf("NetworkMonitor version = %v, %v; want 3", v, err)
	}
}
