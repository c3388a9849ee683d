package portals

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/porthole-dev/porthole/internal/testenv"
	"golang.org/x/sys/unix"
)

// The test binary doubles as a portal client run in another process (and
// possibly another root), so that the frontend identifies it by its pid.
func TestMain(m *testing.M) {
	if os.Getenv("PORTHOLE_PORTAL_TEST_CHILD") != "" {
		os.Exit(childMain())
	}
	os.Exit(m.Run())
}

type childReport struct {
	URIs      []string `json:"uris"`
	OpenFile  string   `json:"open_file"`  // error name or ""
	Network   string   `json:"network"`    // error name or ""
	Register  string   `json:"register"`   // error name or ""
	OpenFile2 string   `json:"open_file2"` // after Register
}

func errName(err error) string {
	var de dbus.Error
	if errors.As(err, &de) {
		return de.Name
	}
	if err != nil {
		return err.Error()
	}
	return ""
}

func childMain() int {
	conn, err := dbus.Connect(os.Getenv("PORTHOLE_PORTAL_TEST_BUS"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if root := os.Getenv("PORTHOLE_PORTAL_TEST_ROOT"); root != "" {
		if err := unix.Chroot(root); err != nil {
			fmt.Fprintln(os.Stderr, "chroot:", err)
			return 1
		}
		_ = os.Chdir("/")
	}
	obj := conn.Object(BusName, DesktopPath)
	var rep childReport
	if os.Getenv("PORTHOLE_PORTAL_TEST_WAIT") != "" {
		_ = conn.AddMatchSignal(dbus.WithMatchInterface("org.freedesktop.portal.Request"), dbus.WithMatchMember("Response"))
		sigs := make(chan *dbus.Signal, 4)
		conn.Signal(sigs)
		if err := obj.Call(portalIface+"FileChooser.OpenFile", 0, "", "", map[string]dbus.Variant{"handle_token": dbus.MakeVariant("w")}).Err; err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		sig := <-sigs
		res, _ := sig.Body[1].(map[string]dbus.Variant)
		rep.URIs, _ = res["uris"].Value().([]string)
	}
	if os.Getenv("PORTHOLE_PORTAL_TEST_REGISTER") != "" {
		rep.Register = errName(obj.Call("org.freedesktop.host.portal.Registry.Register", 0, os.Getenv("PORTHOLE_PORTAL_TEST_REGISTER"), map[string]dbus.Variant{}).Err)
	}
	rep.OpenFile = errName(obj.Call(portalIface+"FileChooser.OpenFile", 0, "", "", map[string]dbus.Variant{"handle_token": dbus.MakeVariant("a")}).Err)
	rep.Network = errName(obj.Call(portalIface+"NetworkMonitor.GetStatus", 0).Err)
	if os.Getenv("PORTHOLE_PORTAL_TEST_REGISTER") == "" {
		rep.Register = errName(obj.Call("org.freedesktop.host.portal.Registry.Register", 0, "org.example.Late", map[string]dbus.Variant{}).Err)
	}
	_ = json.NewEncoder(os.Stdout).Encode(rep)
	return 0
}

// runChild runs the test binary as a client; root != "" makes it chroot
// there (in a new user and mount namespace) after connecting.
func runChild(t *testing.T, h *harness, root string, extraEnv ...string) childReport {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "PORTHOLE_PORTAL_TEST_CHILD=1", "PORTHOLE_PORTAL_TEST_BUS="+h.bus.Address(), "PORTHOLE_PORTAL_TEST_ROOT="+root)
	cmd.Env = append(cmd.Env, extraEnv...)
	cmd.Stderr = os.Stderr
	if root != "" {
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
			UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
			GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
		}
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	var rep childReport
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("client output %q: %v", out, err)
	}
	return rep
}

func TestIdentifyFlatpak(t *testing.T) {
	testenv.Require(t, testenv.HaveUserNS() || testenv.IsRoot(), "needs user namespaces")
	h := newHarness(t)
	h.addFileChooser(false)
	h.writeConf("[preferred]\ndefault=test;\n")
	h.start()

	root := t.TempDir()
	info := "[Application]\nname=org.example.Sandboxed\nruntime=runtime/org.example.Platform/x86_64/1\n\n[Instance]\ninstance-id=1234\napp-path=/nonexistent\n\n[Context]\nshared=ipc;\n"
	if err := os.WriteFile(filepath.Join(root, ".flatpak-info"), []byte(info), 0o644); err != nil {
		t.Fatal(err)
	}
	rep := runChild(t, h, root)
	if rep.OpenFile != "" {
		t.Fatalf("OpenFile from sandbox = %s", rep.OpenFile)
	}
	if got := h.fc.lastAppID(); got != "org.example.Sandboxed" {
		t.Errorf("app id of sandboxed client = %q, want org.example.Sandboxed", got)
	}
	if rep.Network != errorPrefix+"NotAllowed" {
		t.Errorf("NetworkMonitor.GetStatus without network = %q, want NotAllowed", rep.Network)
	}
	if rep.Register == "" {
		t.Errorf("Registry.Register from a flatpak app succeeded")
	}
	h.waitEmpty(0)
}

func TestHostCannotPretend(t *testing.T) {
	h := newHarness(t)
	h.addFileChooser(false)
	h.writeConf("[preferred]\ndefault=test;\n")
	h.start()

	// A fake .flatpak-info in the client's working directory and flatpak's
	// environment variables do not make it an app.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ".flatpak-info"), []byte("[Application]\nname=org.evil.App\n[Instance]\ninstance-id=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	rep := runChild(t, h, "", "FLATPAK_ID=org.evil.App", "container=flatpak")
	_ = os.Chdir(wd)
	if rep.OpenFile != "" {
		t.Fatalf("OpenFile = %s", rep.OpenFile)
	}
	want := hostAppID(uint32(os.Getpid()))
	if got := h.fc.lastAppID(); got != want {
		t.Errorf("app id of host client = %q, want %q", got, want)
	}
	if rep.Network != "" {
		t.Errorf("NetworkMonitor.GetStatus from host = %q, want success", rep.Network)
	}
	if rep.Register == "" {
		t.Errorf("Registry.Register after portal calls succeeded")
	}

	// Registering first names the host app.
	rep = runChild(t, h, "", "PORTHOLE_PORTAL_TEST_REGISTER=org.example.Registered")
	if rep.Register != "" || rep.OpenFile != "" {
		t.Fatalf("Register then OpenFile = %q, %q", rep.Register, rep.OpenFile)
	}
	if got := h.fc.lastAppID(); got != "org.example.Registered" {
		t.Errorf("app id after Register = %q, want org.example.Registered", got)
	}
	h.waitEmpty(0)
}

func TestParseFlatpakInfo(t *testing.T) {
	for _, tc := range []struct {
		in      string
		id      string
		network bool
		bad     bool
	}{
		{in: "[Application]\nname=org.a.B\n[Instance]\ninstance-id=1\n[Context]\nshared=network;ipc;\n", id: "org.a.B", network: true},
		{in: "[Runtime]\nname=org.a.Platform\n[Instance]\ninstance-id=2\n", id: "org.a.Platform"},
		{in: "[Application]\nname=org.a.B\n", bad: true},
		{in: "[Application]\nname=nodots\n[Instance]\ninstance-id=1\n", bad: true},
		{in: "garbage", bad: true},
	} {
		ai, err := parseFlatpakInfo([]byte(tc.in))
		if tc.bad {
			if err == nil {
				t.Errorf("parseFlatpakInfo(%q) succeeded", tc.in)
			}
			continue
		}
		if err != nil || ai.ID != tc.id || ai.Network != tc.network || ai.Kind != KindFlatpak {
			t.Errorf("parseFlatpakInfo(%q) = %+v, %v", tc.in, ai, err)
		}
	}
}

func TestAppIDFromCgroup(t *testing.T) {
	for in, want := range map[string]string{
		"/user.slice/user-1000.slice/user@1000.service/app.slice/app-gnome-org.gnome.Terminal-1234.scope":                 "org.gnome.Terminal",
		"/user.slice/user-1000.slice/user@1000.service/app.slice/app-org.gnome.Evolution\\x2dalarm\\x2dnotify-2437.scope": "org.gnome.Evolution-alarm-notify",
		"/user.slice/user-1000.slice/user@1000.service/app.slice/app-flatpak-org.example.App@123.service":                 "org.example.App",
		"/user.slice/user-1000.slice/user@1000.service/session.slice/org.gnome.Shell@x11.service":                         "",
		"/system.slice/ssh.service": "",
	} {
		if got := appIDFromCgroup(in); got != want {
			t.Errorf("appIDFromCgroup(%q) = %q, want %q", in, got, want)
		}
	}
}

// fakeDocumentsPy is a stand-in org.freedesktop.portal.Documents in
// Python: godbus 5.2.4 panics when it decodes an "ah" array that carries
// fds (the type of AddFull's first argument), so the fake cannot be a Go
// object in this process.
const fakeDocumentsPy = `
import sys, dbus, dbus.service, dbus.mainloop.glib
from gi.repository import GLib
dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
bus = dbus.bus.BusConnection(sys.argv[1])
log = open(sys.argv[2], "a")
class Docs(dbus.service.Object):
    @dbus.service.method("org.freedesktop.portal.Documents", in_signature="", out_signature="ay")
    def GetMountPoint(self):
        return dbus.ByteArray(b"/run/user/0/doc\0")
    @dbus.service.method("org.freedesktop.portal.Documents", in_signature="ahusas", out_signature="asa{sv}")
    def AddFull(self, fds, flags, app_id, perms):
        log.write("%s %s %d\n" % (app_id, ",".join(perms), flags)); log.flush()
        return (["d0c1d"], {})
    @dbus.service.method("org.freedesktop.portal.Documents", in_signature="as", out_signature="a{say}")
    def GetHostPaths(self, ids):
        return dbus.Dictionary({}, signature="say")
Docs(bus, "/org/freedesktop/portal/documents")
name = dbus.service.BusName("org.freedesktop.portal.Documents", bus)
print("ready", flush=True)
GLib.MainLoop().run()
`

// startFakeDocuments runs fakeDocumentsPy on the test bus; it returns the
// file its AddFull calls are logged to.
func startFakeDocuments(t *testing.T, h *harness) string {
	t.Helper()
	const py = "/usr/bin/python3"
	ok := exec.Command(py, "-c", "import dbus, gi").Run() == nil
	testenv.Require(t, ok, "needs python3-dbus and python3-gi")
	dir := t.TempDir()
	script, logFile := filepath.Join(dir, "docs.py"), filepath.Join(dir, "calls.log")
	if err := os.WriteFile(script, []byte(fakeDocumentsPy), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, script, h.bus.Address(), logFile)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	buf := make([]byte, 6)
	if _, err := io.ReadFull(out, buf); err != nil || string(buf) != "ready\n" {
		t.Fatalf("fake document portal: %q, %v", buf, err)
	}
	return logFile
}

func TestFileChooserExportsForSandbox(t *testing.T) {
	testenv.Require(t, testenv.HaveUserNS() || testenv.IsRoot(), "needs user namespaces")
	h := newHarness(t)
	h.addFileChooser(false)
	file := filepath.Join(t.TempDir(), "a.txt")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	h.fc.mu.Lock()
	h.fc.uris = []string{"file://" + file}
	h.fc.mu.Unlock()
	calls := startFakeDocuments(t, h)
	h.writeConf("[preferred]\ndefault=test;\n")
	h.start()

	root := t.TempDir()
	info := "[Application]\nname=org.example.Sandboxed\n\n[Instance]\ninstance-id=1\n"
	if err := os.WriteFile(filepath.Join(root, ".flatpak-info"), []byte(info), 0o644); err != nil {
		t.Fatal(err)
	}
	rep := runChild(t, h, root, "PORTHOLE_PORTAL_TEST_WAIT=1")
	if want := []string{"file:///run/flatpak/doc/d0c1d/a.txt"}; !slices.Equal(rep.URIs, want) {
		t.Errorf("uris for sandboxed caller = %v, want %v", rep.URIs, want)
	}
	// The client opens twice (the second OpenFile of childMain); the host
	// client below must add nothing.
	const line = "org.example.Sandboxed read,write,grant-permissions 7\n"

	// A host caller gets the backend's URI unchanged.
	rep = runChild(t, h, "", "PORTHOLE_PORTAL_TEST_WAIT=1")
	if want := []string{"file://" + file}; !slices.Equal(rep.URIs, want) {
		t.Errorf("uris for host caller = %v, want %v", rep.URIs, want)
	}
	logged, _ := os.ReadFile(calls)
	if want := line + line; string(logged) != want {
		t.Errorf("AddFull calls = %q, want %q", logged, want)
	}
}
