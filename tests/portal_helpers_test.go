package tests

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/godbus/dbus/v5"

	"github.com/porthole-dev/porthole/internal/testbus"
	"github.com/porthole-dev/porthole/internal/testenv"
)

// ptEnv is a private session and system bus with our permission store,
// the test backend, fake NetworkManager and GeoClue on the system bus and
// our frontend (porthole-portal), every caller identified as the host
// app ptAppID through the upstream test hook.
type ptEnv struct {
	bus, sys *testbus.Bus
	root     string // HOME and the XDG directories are under it
	files    string // files the backend's results point at
	portals  string // XDG_DESKTOP_PORTAL_DIR
	backend  *ptBackend
	geoclue  *ptGeoclue
	frontend *ptProc
	conn     *dbus.Conn // a client connection
	extraEnv []string
}

// ptProc is a running service binary.
type ptProc struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
	log  *docpLog
}

// ptSetup starts everything but the frontend.
func ptSetup(t *testing.T) *ptEnv {
	t.Helper()
	testenv.Require(t, testenv.HaveDBusDaemon(), "needs dbus-daemon (Debian package dbus-daemon)")
	e := &ptEnv{bus: testbus.New(t), sys: testbus.NewSystem(t), root: t.TempDir()}
	os.Chmod(e.root, 0o755)
	e.files = filepath.Join(e.root, "files")
	e.portals = filepath.Join(e.root, "portals")
	for _, d := range []string{e.files, e.portals, filepath.Join(e.root, "data/applications"), filepath.Join(e.root, "config"), filepath.Join(e.root, "run")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	psStart(t, e.bus, psBinary(t, "ours"), filepath.Join(e.root, "data"))
	e.backend = startPtBackend(t, e.bus.Conn(t), e.portals, e.files)
	ptFakeNetworkManager(t, e.sys.Conn(t))
	e.geoclue = ptFakeGeoclue(t, e.sys.Conn(t))
	e.conn = e.bus.Conn(t)
	// The handler the AppChooser picks writes its argument to a file.
	e.handler(t, ptHandlerID, "launched", "text/plain;x-scheme-handler/porthole-test;")
	return e
}

// handler installs desktop file id for mime types, whose command appends
// its argument to the file out (under e.files).
func (e *ptEnv) handler(t testing.TB, id, out, mime string) {
	t.Helper()
	script := filepath.Join(e.root, id+".sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"$1\" >> "+filepath.Join(e.files, out)+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	desktop := "[Desktop Entry]\nType=Application\nName=" + id + "\nExec=" + script + " %u\nMimeType=" + mime + "\n"
	if err := os.WriteFile(filepath.Join(e.root, "data/applications", id+".desktop"), []byte(desktop), 0o644); err != nil {
		t.Fatal(err)
	}
}

// env is the environment of services and clients.
func (e *ptEnv) env() []string {
	return testenv.WithEnv(os.Environ(), e.bus.Env(), e.sys.Env(),
		"HOME="+e.root, "XDG_DATA_HOME="+filepath.Join(e.root, "data"), "XDG_CONFIG_HOME="+filepath.Join(e.root, "config"),
		"XDG_CACHE_HOME="+filepath.Join(e.root, "cache"), "XDG_RUNTIME_DIR="+filepath.Join(e.root, "run"),
		"XDG_DATA_DIRS="+filepath.Join(e.root, "data")+":/usr/share",
		"XDG_DESKTOP_PORTAL_DIR="+e.portals, "XDG_CURRENT_DESKTOP=test", "GIO_USE_VFS=local",
		"no_proxy=", "http_proxy=", "https_proxy=", "all_proxy=")
}

// startFrontend starts porthole-portal with the test app id hook (unless
// hook is false) and waits for its bus name.
func (e *ptEnv) startFrontend(t *testing.T, hook bool) *ptProc {
	t.Helper()
	env := e.env()
	if hook {
		env = append(env, "XDG_DESKTOP_PORTAL_TEST_APP_ID="+ptAppID)
	}
	env = append(env, e.extraEnv...)
	e.frontend = ptLaunch(t, e.bus, env, ptDesktopName, docpBuild(t, "porthole-portal"), "-v")
	return e.frontend
}

// ptLaunch starts argv with env and waits until name has an owner on bus.
func ptLaunch(t *testing.T, bus *testbus.Bus, env []string, name string, argv ...string) *ptProc {
	t.Helper()
	p := &ptProc{cmd: exec.Command(argv[0], argv[1:]...), done: make(chan struct{}), log: &docpLog{}}
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	conn := bus.Conn(t)
	if err := conn.AddMatchSignal(dbus.WithMatchSender("org.freedesktop.DBus"), dbus.WithMatchMember("NameOwnerChanged"), dbus.WithMatchArg(0, name)); err != nil {
		t.Fatal(err)
	}
	ch := make(chan *dbus.Signal, 16)
	conn.Signal(ch)
	for {
		var has bool
		if err := conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, name).Store(&has); err != nil {
			t.Fatal(err)
		}
		if has {
			break
		}
		select {
		case <-ch:
		case <-p.done:
			t.Fatalf("%s exited before owning %s: %v\n%s", argv[0], name, p.err, p.log)
		}
	}
	conn.RemoveSignal(ch)
	return p
}

// stop sends SIGHUP and returns the exit error.
func (p *ptProc) stop() error {
	p.cmd.Process.Signal(syscall.SIGHUP)
	<-p.done
	return p.err
}

// alive reports whether the process is still running.
func (p *ptProc) alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

func (e *ptEnv) portal() dbus.BusObject { return e.conn.Object(ptDesktopName, ptDesktopPath) }

// ptErrName is the D-Bus error name of err, or "" without an error.
func ptErrName(err error) string {
	if err == nil {
		return ""
	}
	var de dbus.Error
	if errors.As(err, &de) {
		return de.Name
	}
	return err.Error()
}

// ptRequest calls a request method on conn and waits for its Response.
func ptRequest(t testing.TB, conn *dbus.Conn, method string, args ...any) (uint32, map[string]dbus.Variant) {
	t.Helper()
	ch := make(chan *dbus.Signal, 64)
	conn.Signal(ch)
	defer conn.RemoveSignal(ch)
	if err := conn.AddMatchSignal(dbus.WithMatchInterface("org.freedesktop.portal.Request"), dbus.WithMatchMember("Response")); err != nil {
		t.Fatal(err)
	}
	var handle dbus.ObjectPath
	if err := conn.Object(ptDesktopName, ptDesktopPath).Call(ptPortal+method, 0, args...).Store(&handle); err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	for sig := range ch {
		if sig.Path == handle && sig.Name == "org.freedesktop.portal.Request.Response" {
			return sig.Body[0].(uint32), sig.Body[1].(map[string]dbus.Variant)
		}
	}
	panic("unreachable")
}

// ptFakeNetworkManager owns org.freedesktop.NetworkManager on conn with
// the properties the frontend reads: full connectivity, metered.
func ptFakeNetworkManager(t testing.TB, conn *dbus.Conn) {
	t.Helper()
	props := ptPropsMap{"org.freedesktop.NetworkManager": {
		"Connectivity": dbus.MakeVariant(uint32(4)), "Metered": dbus.MakeVariant(uint32(1)),
		"State": dbus.MakeVariant(uint32(70)), "NetworkingEnabled": dbus.MakeVariant(true),
	}}
	if err := conn.Export(props, "/org/freedesktop/NetworkManager", "org.freedesktop.DBus.Properties"); err != nil {
		t.Fatal(err)
	}
	ptOwn(t, conn, "org.freedesktop.NetworkManager")
}

func ptOwn(t testing.TB, conn *dbus.Conn, name string) {
	t.Helper()
	if r, err := conn.RequestName(name, dbus.NameFlagDoNotQueue); err != nil || r != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("RequestName(%s) = %v, %v", name, r, err)
	}
}

// ptPropsMap is a read-only org.freedesktop.DBus.Properties.
type ptPropsMap map[string]map[string]dbus.Variant

func (p ptPropsMap) Get(iface, name string) (dbus.Variant, *dbus.Error) {
	if v, ok := p[iface][name]; ok {
		return v, nil
	}
	return dbus.Variant{}, dbus.NewError("org.freedesktop.DBus.Error.UnknownProperty", []any{name})
}

func (p ptPropsMap) GetAll(iface string) (map[string]dbus.Variant, *dbus.Error) {
	return p[iface], nil
}

// ptGeoclue is GeoClue2's Manager, one Client and one Location.
type ptGeoclue struct {
	conn *dbus.Conn
	mu   sync.Mutex
	set  map[string]dbus.Variant // client properties the frontend set
}

const (
	ptGeoName     = "org.freedesktop.GeoClue2"
	ptGeoClient   = dbus.ObjectPath("/org/freedesktop/GeoClue2/Client/1")
	ptGeoLocation = dbus.ObjectPath("/org/freedesktop/GeoClue2/Client/1/Location/1")
)

type ptGeoManager struct{ g *ptGeoclue }
type ptGeoClientObj struct{ g *ptGeoclue }
type ptGeoClientProps struct{ g *ptGeoclue }

func (m ptGeoManager) GetClient() (dbus.ObjectPath, *dbus.Error)    { return ptGeoClient, nil }
func (m ptGeoManager) CreateClient() (dbus.ObjectPath, *dbus.Error) { return ptGeoClient, nil }
func (m ptGeoManager) DeleteClient(dbus.ObjectPath) *dbus.Error     { return nil }

func (c ptGeoClientObj) Start() *dbus.Error {
	// GeoClue reports a location right after Start when it has one.
	_ = c.g.conn.Emit(ptGeoClient, ptGeoName+".Client.LocationUpdated", dbus.ObjectPath("/"), ptGeoLocation)
	return nil
}

func (c ptGeoClientObj) Stop() *dbus.Error { return nil }

func (c ptGeoClientProps) Get(iface, name string) (dbus.Variant, *dbus.Error) {
	c.g.mu.Lock()
	defer c.g.mu.Unlock()
	if v, ok := c.g.set[name]; ok {
		return v, nil
	}
	return dbus.Variant{}, dbus.NewError("org.freedesktop.DBus.Error.UnknownProperty", []any{name})
}

func (c ptGeoClientProps) GetAll(iface string) (map[string]dbus.Variant, *dbus.Error) {
	c.g.mu.Lock()
	defer c.g.mu.Unlock()
	out := map[string]dbus.Variant{}
	for k, v := range c.g.set {
		out[k] = v
	}
	return out, nil
}

func (c ptGeoClientProps) Set(iface, name string, v dbus.Variant) *dbus.Error {
	c.g.mu.Lock()
	c.g.set[name] = v
	c.g.mu.Unlock()
	return nil
}

func (g *ptGeoclue) prop(name string) any {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.set[name].Value()
}

// ptLocation is the location the fake GeoClue reports.
var ptLocation = map[string]dbus.Variant{
	"Latitude": dbus.MakeVariant(59.3293), "Longitude": dbus.MakeVariant(18.0686), "Accuracy": dbus.MakeVariant(25.0),
	"Altitude": dbus.MakeVariant(28.0), "Speed": dbus.MakeVariant(-1.0), "Heading": dbus.MakeVariant(-1.0),
	"Description": dbus.MakeVariant(""), "Timestamp": dbus.MakeVariant(struct{ S, U uint64 }{1700000000, 5}),
}

func ptFakeGeoclue(t testing.TB, conn *dbus.Conn) *ptGeoclue {
	t.Helper()
	g := &ptGeoclue{conn: conn, set: map[string]dbus.Variant{}}
	for path, objs := range map[dbus.ObjectPath]map[string]any{
		"/org/freedesktop/GeoClue2/Manager": {ptGeoName + ".Manager": ptGeoManager{g}},
		ptGeoClient:                         {ptGeoName + ".Client": ptGeoClientObj{g}, "org.freedesktop.DBus.Properties": ptGeoClientProps{g}},
		ptGeoLocation:                       {"org.freedesktop.DBus.Properties": ptPropsMap{ptGeoName + ".Location": ptLocation}},
	} {
		for iface, o := range objs {
			if err := conn.Export(o, path, iface); err != nil {
				t.Fatal(err)
			}
		}
	}
	ptOwn(t, conn, ptGeoName)
	return g
}

// ptFile writes a file under the env's file directory.
func (e *ptEnv) file(t testing.TB, name, content string) string {
	t.Helper()
	p := filepath.Join(e.files, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// ptLines splits output into trimmed non-empty lines.
func ptLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}
