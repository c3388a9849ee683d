package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/godbus/dbus/v5"
)

// The test backend: one connection owning org.freedesktop.impl.portal.Test
// that answers every impl interface the frontend uses with fixed results
// and records each call, so tests check both what the client got and
// what the backend was asked.

const (
	ptBackendName = "org.freedesktop.impl.portal.Test"
	ptDesktopName = "org.freedesktop.portal.Desktop"
	ptDesktopPath = dbus.ObjectPath("/org/freedesktop/portal/desktop")
	ptPortal      = "org.freedesktop.portal."
	ptImpl        = "org.freedesktop.impl.portal."
	ptAppID       = "org.example.Test"
)

// ptImplIfaces are the impl interfaces of test.portal.
var ptImplIfaces = []string{"Access", "Account", "AppChooser", "Background", "Email", "FileChooser",
	"Inhibit", "Lockdown", "Notification", "Print", "Screenshot", "Settings", "Wallpaper"}

// ptCall is one recorded backend call.
type ptCall struct {
	Method string // Interface.Member, without the impl prefix
	Args   []any
}

// ptBackend records calls; its per-interface objects share it.
type ptBackend struct {
	conn *dbus.Conn
	dir  string // files the results point at

	// gate, when set, runs before a request method answers, with gateArg.
	gate    atomic.Pointer[func(uint32)]
	gateArg atomic.Uint32

	mu    sync.Mutex
	calls []ptCall
	seen  chan string // Method of each call
}

func (b *ptBackend) record(method string, args ...any) {
	b.mu.Lock()
	b.calls = append(b.calls, ptCall{method, args})
	b.mu.Unlock()
	select {
	case b.seen <- method:
	default:
	}
}

// req records a request method's call and waits for the gate.
func (b *ptBackend) req(method string, args ...any) {
	b.record(method, args...)
	if g := b.gate.Load(); g != nil {
		(*g)(b.gateArg.Load())
	}
}

func (b *ptBackend) setGate(f func(uint32)) { b.gate.Store(&f) }

// last returns the latest call of method.
func (b *ptBackend) last(t testing.TB, method string) ptCall {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := len(b.calls) - 1; i >= 0; i-- {
		if b.calls[i].Method == method {
			return b.calls[i]
		}
	}
	t.Fatalf("backend never got %s; calls: %v", method, b.methods())
	return ptCall{}
}

// waitCall blocks until method has been called (again) count times in
// total.
func (b *ptBackend) waitCall(t testing.TB, method string, count int) ptCall {
	t.Helper()
	for {
		b.mu.Lock()
		n := 0
		var c ptCall
		for _, x := range b.calls {
			if x.Method == method {
				n++
				c = x
			}
		}
		b.mu.Unlock()
		if n >= count {
			return c
		}
		<-b.seen
	}
}

func (b *ptBackend) count(method string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, x := range b.calls {
		if x.Method == method {
			n++
		}
	}
	return n
}

func (b *ptBackend) methods() []string {
	var m []string
	for _, c := range b.calls {
		m = append(m, c.Method)
	}
	return m
}

type (
	ptFileChooser  struct{ b *ptBackend }
	ptAppChooser   struct{ b *ptBackend }
	ptAccess       struct{ b *ptBackend }
	ptAccount      struct{ b *ptBackend }
	ptEmail        struct{ b *ptBackend }
	ptScreenshot   struct{ b *ptBackend }
	ptWallpaper    struct{ b *ptBackend }
	ptPrint        struct{ b *ptBackend }
	ptInhibit      struct{ b *ptBackend }
	ptNotification struct{ b *ptBackend }
	ptBackground   struct{ b *ptBackend }
	ptSettings     struct{ b *ptBackend }
	ptProps        struct{ b *ptBackend }
)

type ptResults = map[string]dbus.Variant

func (f ptFileChooser) OpenFile(h dbus.ObjectPath, app, parent, title string, o ptResults) (uint32, ptResults, *dbus.Error) {
	f.b.req("FileChooser.OpenFile", h, app, parent, title, o)
	return 0, ptResults{
		"uris":    dbus.MakeVariant([]string{"file://" + filepath.Join(f.b.dir, "open.txt")}),
		"choices": dbus.MakeVariant([]struct{ ID, Value string }{{"encoding", "utf8"}}),
	}, nil
}

func (f ptFileChooser) SaveFile(h dbus.ObjectPath, app, parent, title string, o ptResults) (uint32, ptResults, *dbus.Error) {
	f.b.req("FileChooser.SaveFile", h, app, parent, title, o)
	return 0, ptResults{"uris": dbus.MakeVariant([]string{"file://" + filepath.Join(f.b.dir, "save.txt")})}, nil
}

func (f ptFileChooser) SaveFiles(h dbus.ObjectPath, app, parent, title string, o ptResults) (uint32, ptResults, *dbus.Error) {
	f.b.req("FileChooser.SaveFiles", h, app, parent, title, o)
	var uris []string
	if files, ok := o["files"].Value().([][]byte); ok {
		for _, n := range files {
			uris = append(uris, "file://"+filepath.Join(f.b.dir, strings.TrimRight(string(n), "\x00")))
		}
	}
	return 0, ptResults{"uris": dbus.MakeVariant(uris)}, nil
}

func (a ptAppChooser) ChooseApplication(h dbus.ObjectPath, app, parent string, choices []string, o ptResults) (uint32, ptResults, *dbus.Error) {
	a.b.record("AppChooser.ChooseApplication", h, app, parent, choices, o)
	return 0, ptResults{"choice": dbus.MakeVariant(ptHandlerID)}, nil
}

func (a ptAppChooser) UpdateChoices(h dbus.ObjectPath, choices []string) *dbus.Error {
	a.b.record("AppChooser.UpdateChoices", h, choices)
	return nil
}

func (a ptAccess) AccessDialog(h dbus.ObjectPath, app, parent, title, sub, body string, o ptResults) (uint32, ptResults, *dbus.Error) {
	a.b.req("Access.AccessDialog", h, app, parent, title, sub, body, o)
	return 0, ptResults{}, nil
}

func (a ptAccount) GetUserInformation(h dbus.ObjectPath, app, window string, o ptResults) (uint32, ptResults, *dbus.Error) {
	a.b.req("Account.GetUserInformation", h, app, window, o)
	return 0, ptResults{"id": dbus.MakeVariant("alice"), "name": dbus.MakeVariant("Alice Liddell"),
		"image": dbus.MakeVariant("file://" + filepath.Join(a.b.dir, "face.png"))}, nil
}

func (e ptEmail) ComposeEmail(h dbus.ObjectPath, app, parent string, o ptResults) (uint32, ptResults, *dbus.Error) {
	e.b.req("Email.ComposeEmail", h, app, parent, o)
	return 0, ptResults{}, nil
}

func (s ptScreenshot) Screenshot(h dbus.ObjectPath, app, parent string, o ptResults) (uint32, ptResults, *dbus.Error) {
	s.b.req("Screenshot.Screenshot", h, app, parent, o)
	return 0, ptResults{"uri": dbus.MakeVariant("file://" + filepath.Join(s.b.dir, "shot.png"))}, nil
}

func (s ptScreenshot) PickColor(h dbus.ObjectPath, app, parent string, o ptResults) (uint32, ptResults, *dbus.Error) {
	s.b.req("Screenshot.PickColor", h, app, parent, o)
	return 0, ptResults{"color": dbus.MakeVariant(struct{ R, G, B float64 }{0.25, 0.5, 0.75})}, nil
}

func (w ptWallpaper) SetWallpaperURI(h dbus.ObjectPath, app, parent, uri string, o ptResults) (uint32, *dbus.Error) {
	w.b.record("Wallpaper.SetWallpaperURI", h, app, parent, uri, o)
	return 0, nil
}

func (p ptPrint) PreparePrint(h dbus.ObjectPath, app, parent, title string, settings, setup, o ptResults) (uint32, ptResults, *dbus.Error) {
	p.b.req("Print.PreparePrint", h, app, parent, title, settings, setup, o)
	return 0, ptResults{
		"settings":   dbus.MakeVariant(ptResults{"n-copies": dbus.MakeVariant("2")}),
		"page-setup": dbus.MakeVariant(ptResults{"PPDName": dbus.MakeVariant("iso_a4")}),
		"token":      dbus.MakeVariant(uint32(7)),
	}, nil
}

func (p ptPrint) Print(h dbus.ObjectPath, app, parent, title string, fd dbus.UnixFD, o ptResults) (uint32, ptResults, *dbus.Error) {
	f := os.NewFile(uintptr(fd), "print")
	data := make([]byte, 64)
	n, _ := f.Read(data)
	f.Close()
	p.b.req("Print.Print", h, app, parent, title, string(data[:n]), o)
	return 0, ptResults{}, nil
}

func (i ptInhibit) Inhibit(h dbus.ObjectPath, app, window string, flags uint32, o ptResults) *dbus.Error {
	i.b.record("Inhibit.Inhibit", h, app, window, flags, o)
	return nil
}

func (i ptInhibit) CreateMonitor(h, session dbus.ObjectPath, app, window string) (uint32, *dbus.Error) {
	i.b.record("Inhibit.CreateMonitor", h, session, app, window)
	return 0, nil
}

func (i ptInhibit) QueryEndResponse(session dbus.ObjectPath) *dbus.Error {
	i.b.record("Inhibit.QueryEndResponse", session)
	return nil
}

func (n ptNotification) AddNotification(app, id string, o ptResults) *dbus.Error {
	n.b.record("Notification.AddNotification", app, id, o)
	return nil
}

func (n ptNotification) RemoveNotification(app, id string) *dbus.Error {
	n.b.record("Notification.RemoveNotification", app, id)
	return nil
}

func (g ptBackground) GetAppState() (map[string]dbus.Variant, *dbus.Error) {
	g.b.record("Background.GetAppState")
	return map[string]dbus.Variant{"org.example.Active": dbus.MakeVariant(uint32(2))}, nil
}

func (g ptBackground) NotifyBackground(h dbus.ObjectPath, app, name string) (uint32, ptResults, *dbus.Error) {
	g.b.record("Background.NotifyBackground", h, app, name)
	result := uint32(1) // allow
	if strings.Contains(app, "Forbid") {
		result = 0
	}
	return 0, ptResults{"result": dbus.MakeVariant(result)}, nil
}

func (g ptBackground) EnableAutostart(app string, enable bool, cmdline []string, flags uint32) (bool, *dbus.Error) {
	g.b.record("Background.EnableAutostart", app, enable, cmdline, flags)
	return enable, nil
}

// ptSettingsValues is what the test backend's Settings answers.
func ptSettingsValues() map[string]map[string]dbus.Variant {
	return map[string]map[string]dbus.Variant{
		"org.freedesktop.appearance": {
			"color-scheme": dbus.MakeVariant(uint32(1)),
			"accent-color": dbus.MakeVariant(struct{ R, G, B float64 }{0.5, 0.25, 1}),
			"contrast":     dbus.MakeVariant(uint32(1)),
		},
		"org.example.test": {"greeting": dbus.MakeVariant("hello")},
	}
}

func (s ptSettings) ReadAll(namespaces []string) (map[string]map[string]dbus.Variant, *dbus.Error) {
	s.b.record("Settings.ReadAll", namespaces)
	all := ptSettingsValues()
	if len(namespaces) == 0 {
		return all, nil
	}
	out := map[string]map[string]dbus.Variant{}
	for ns, kv := range all {
		for _, want := range namespaces {
			if want == ns || strings.HasSuffix(want, "*") && strings.HasPrefix(ns, strings.TrimSuffix(want, "*")) {
				out[ns] = kv
			}
		}
	}
	return out, nil
}

func (s ptSettings) Read(ns, key string) (dbus.Variant, *dbus.Error) {
	s.b.record("Settings.Read", ns, key)
	if v, ok := ptSettingsValues()[ns][key]; ok {
		return v, nil
	}
	return dbus.Variant{}, dbus.NewError("org.freedesktop.portal.Error.NotFound", []any{"Requested setting not found"})
}

// Properties of the impl interfaces.
func (p ptProps) Get(iface, name string) (dbus.Variant, *dbus.Error) {
	all, _ := p.GetAll(iface)
	if v, ok := all[name]; ok {
		return v, nil
	}
	return dbus.Variant{}, dbus.NewError("org.freedesktop.DBus.Error.UnknownProperty", []any{name})
}

func (p ptProps) GetAll(iface string) (map[string]dbus.Variant, *dbus.Error) {
	switch iface {
	case ptImpl + "Screenshot":
		return map[string]dbus.Variant{"version": dbus.MakeVariant(uint32(2))}, nil
	case ptImpl + "Notification":
		return map[string]dbus.Variant{"version": dbus.MakeVariant(uint32(2)),
			"SupportedOptions": dbus.MakeVariant(map[string]dbus.Variant{"category": dbus.MakeVariant([]string{"im.received"})})}, nil
	case ptImpl + "Lockdown":
		return map[string]dbus.Variant{"disable-printing": dbus.MakeVariant(false)}, nil
	}
	return map[string]dbus.Variant{"version": dbus.MakeVariant(uint32(1))}, nil
}

func (p ptProps) Set(iface, name string, v dbus.Variant) *dbus.Error {
	return dbus.NewError("org.freedesktop.DBus.Error.PropertyReadOnly", []any{name})
}

// ptHandlerID is the desktop file the AppChooser picks.
const ptHandlerID = "org.example.Handler"

// startPtBackend exports the backend on a new connection to bus, owns
// the backend name and writes test.portal and test-portals.conf to dir.
func startPtBackend(t testing.TB, conn *dbus.Conn, portalDir, fileDir string) *ptBackend {
	t.Helper()
	b := &ptBackend{conn: conn, dir: fileDir, seen: make(chan string, 1024)}
	objs := map[string]any{
		"FileChooser": ptFileChooser{b}, "AppChooser": ptAppChooser{b}, "Access": ptAccess{b},
		"Account": ptAccount{b}, "Email": ptEmail{b}, "Screenshot": ptScreenshot{b},
		"Wallpaper": ptWallpaper{b}, "Print": ptPrint{b}, "Inhibit": ptInhibit{b},
		"Notification": ptNotification{b}, "Background": ptBackground{b}, "Settings": ptSettings{b},
	}
	for name, o := range objs {
		if err := conn.Export(o, ptDesktopPath, ptImpl+name); err != nil {
			t.Fatal(err)
		}
	}
	if err := conn.Export(ptProps{b}, ptDesktopPath, "org.freedesktop.DBus.Properties"); err != nil {
		t.Fatal(err)
	}
	if r, err := conn.RequestName(ptBackendName, dbus.NameFlagDoNotQueue); err != nil || r != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("RequestName(%s) = %v, %v", ptBackendName, r, err)
	}
	var ifaces []string
	for _, i := range ptImplIfaces {
		ifaces = append(ifaces, ptImpl+i)
	}
	portal := fmt.Sprintf("[portal]\nDBusName=%s\nInterfaces=%s;\n", ptBackendName, strings.Join(ifaces, ";"))
	if err := os.WriteFile(filepath.Join(portalDir, "test.portal"), []byte(portal), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(portalDir, "test-portals.conf"), []byte("[preferred]\ndefault=test;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}
