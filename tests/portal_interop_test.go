package tests

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/porthole-dev/porthole/internal/testenv"
)

const ptGtkBackend = "/usr/libexec/xdg-desktop-portal-gtk"

// ptXvfb starts an X server and returns its DISPLAY.
func ptXvfb(t *testing.T) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd := exec.Command("Xvfb", "-displayfd", "3", "-nolisten", "tcp", "-screen", "0", "1024x768x24")
	cmd.ExtraFiles = []*os.File{w}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		t.Fatalf("Xvfb did not report its display: %v", err)
	}
	return ":" + strings.TrimSpace(line)
}

// ptFindWindow polls the X server until a window whose name contains
// title is mapped and returns its id. The wait has no time limit of its
// own: the test's deadline ends a hang.
func ptFindWindow(t *testing.T, display, title string) string {
	t.Helper()
	re := regexp.MustCompile(`^\s*(0x[0-9a-f]+) "([^"]*)"`)
	for {
		cmd := exec.Command("xwininfo", "-root", "-tree")
		cmd.Env = append(os.Environ(), "DISPLAY="+display)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("xwininfo: %v", err)
		}
		for _, l := range strings.Split(string(out), "\n") {
			if m := re.FindStringSubmatch(l); m != nil && strings.Contains(m[2], title) {
				state := exec.Command("xwininfo", "-id", m[1])
				state.Env = cmd.Env
				if o, err := state.Output(); err == nil && strings.Contains(string(o), "Map State: IsViewable") {
					return m[1]
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestPortalGtkInterop runs our frontend with Debian's
// xdg-desktop-portal-gtk as the backend under Xvfb: Settings answers from
// it, and FileChooser.OpenFile maps its file chooser window; Escape
// sent to that window ends the request (Response 2); a second dialog
// is ended with Request.Close and its window goes away.
func TestPortalGtkInterop(t *testing.T) {
	_, err := os.Stat(ptGtkBackend)
	testenv.Require(t, err == nil, "needs "+ptGtkBackend+" (Debian package xdg-desktop-portal-gtk)")
	for _, c := range []string{"Xvfb", "xwininfo", "xdotool"} {
		testenv.Require(t, testenv.HaveCommand(c), "needs "+c+" (Debian packages xvfb x11-utils xdotool)")
	}
	e := ptSetup(t)
	display := ptXvfb(t)
	// The portal directory names only gtk.
	for _, n := range []string{"test.portal", "test-portals.conf"} {
		os.Remove(filepath.Join(e.portals, n))
	}
	data, err := os.ReadFile("/usr/share/xdg-desktop-portal/portals/gtk.portal")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.portals, "gtk.portal"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.portals, "portals.conf"), []byte("[preferred]\ndefault=gtk;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gtkEnv := append(e.env(), "DISPLAY="+display, "GSETTINGS_BACKEND=memory", "GDK_BACKEND=x11", "GTK_A11Y=none", "NO_AT_BRIDGE=1")
	gtk := ptLaunch(t, e.bus, gtkEnv, "org.freedesktop.impl.portal.desktop.gtk", ptGtkBackend)
	e.extraEnv = []string{"DISPLAY=" + display}
	e.startFrontend(t, false)

	// Settings: the GNOME namespaces and the appearance keys from gtk.
	var all map[string]map[string]dbus.Variant
	if err := e.portal().Call(ptPortal+"Settings.ReadAll", 0, []string{"org.gnome.desktop.interface", "org.freedesktop.appearance"}).Store(&all); err != nil {
		t.Fatalf("ReadAll: %v", err)
	}
	if v, ok := all["org.gnome.desktop.interface"]["gtk-theme"]; !ok || v.Signature().String() != "s" {
		t.Errorf("ReadAll has no gtk-theme string: %v", all)
	}
	var cs dbus.Variant
	if err := e.portal().Call(ptPortal+"Settings.ReadOne", 0, "org.freedesktop.appearance", "color-scheme").Store(&cs); err != nil || cs.Signature().String() != "u" {
		t.Errorf("ReadOne(color-scheme) = %v, %v; want a u", cs, err)
	}
	var font dbus.Variant
	if err := e.portal().Call(ptPortal+"Settings.Read", 0, "org.gnome.desktop.interface", "font-name").Store(&font); err != nil || font.Signature().String() != "v" {
		t.Errorf("Read(font-name) = %v, %v; want a variant in a variant", font, err)
	}

	// FileChooser: the dialog appears; Escape cancels it.
	ch := make(chan *dbus.Signal, 16)
	e.conn.Signal(ch)
	if err := e.conn.AddMatchSignal(dbus.WithMatchInterface("org.freedesktop.portal.Request"), dbus.WithMatchMember("Response")); err != nil {
		t.Fatal(err)
	}
	var handle dbus.ObjectPath
	if err := e.portal().Call(ptPortal+"FileChooser.OpenFile", 0, "", "Porthole Interop One", map[string]dbus.Variant{
		"handle_token": dbus.MakeVariant("gtk1")}).Store(&handle); err != nil {
		t.Fatalf("OpenFile: %v", err)
	}
	win := ptFindWindow(t, display, "Porthole Interop One")
	key := exec.Command("xdotool", "windowfocus", "--sync", win, "key", "--clearmodifiers", "Escape")
	key.Env = append(os.Environ(), "DISPLAY="+display)
	if out, err := key.CombinedOutput(); err != nil {
		t.Fatalf("xdotool: %v %s", err, out)
	}
	for sig := range ch {
		if sig.Path == handle {
			// GtkDialog turns Escape into a delete-event response, which
			// the gtk backend answers with 2 ("ended otherwise").
			if code := sig.Body[0].(uint32); code != 2 || ptPlain(sig.Body[1].(map[string]dbus.Variant)) != "map[uris:[]]" {
				t.Errorf("Response after Escape = %d %v, want 2 and no uris", code, sig.Body[1])
			}
			break
		}
	}

	// A second dialog, ended by the caller with Request.Close: the backend
	// closes its window and no Response comes.
	if err := e.portal().Call(ptPortal+"FileChooser.OpenFile", 0, "", "Porthole Interop Two", map[string]dbus.Variant{
		"handle_token": dbus.MakeVariant("gtk2")}).Store(&handle); err != nil {
		t.Fatalf("OpenFile: %v", err)
	}
	win = ptFindWindow(t, display, "Porthole Interop Two")
	if err := e.conn.Object(ptDesktopName, handle).Call("org.freedesktop.portal.Request.Close", 0).Err; err != nil {
		t.Fatalf("Request.Close: %v", err)
	}
	for {
		info := exec.Command("xwininfo", "-id", win)
		info.Env = append(os.Environ(), "DISPLAY="+display)
		out, err := info.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "IsViewable") {
			break // destroyed or unmapped
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Settings still answers after that (a round trip orders us after any
	// Response the frontend might have sent).
	if err := e.portal().Call(ptPortal+"Settings.ReadOne", 0, "org.freedesktop.appearance", "color-scheme").Err; err != nil {
		t.Errorf("ReadOne after Close: %v", err)
	}
	select {
	case sig := <-ch:
		if sig.Path == handle {
			t.Errorf("Response after Request.Close: %v", sig.Body)
		}
	default:
	}
	if !gtk.alive() {
		t.Errorf("xdg-desktop-portal-gtk died:\n%s", gtk.log)
	}
	if err := e.frontend.stop(); err != nil {
		t.Errorf("frontend exit on SIGHUP: %v\n%s", err, e.frontend.log)
	}
}

const ptUpstreamFrontend = "/usr/libexec/xdg-desktop-portal"

// TestPortalUpstreamFrontendOnOurStore runs Debian's xdg-desktop-portal
// (1.16) with our permission store and the test backend: OpenURI reads
// the "desktop-used-apps" table from our store (a stored choice above its
// threshold skips the chooser; with ask it is passed to the chooser as
// last_choice) and writes the new choice back into it.
func TestPortalUpstreamFrontendOnOurStore(t *testing.T) {
	_, err := os.Stat(ptUpstreamFrontend)
	testenv.Require(t, err == nil, "needs "+ptUpstreamFrontend+" (Debian package xdg-desktop-portal)")
	e := ptSetup(t)
	// 1.16 picks backends by UseIn only.
	portal := filepath.Join(e.portals, "test.portal")
	data, err := os.ReadFile(portal)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(portal, append(data, "UseIn=test\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	// A second handler, so that there is a choice to make.
	e.handler(t, "org.example.Handler2", "launched2", "x-scheme-handler/porthole-test;")
	const table, ctype = "desktop-used-apps", "x-scheme-handler/porthole-test"
	store := e.conn.Object(psName, psPath)
	// Host apps have the app id "" in 1.16.
	if err := store.Call(psIface+".SetPermission", 0, table, true, ctype, "", []string{"org.example.Handler2", "5", "3"}).Err; err != nil {
		t.Fatal(err)
	}
	ptLaunch(t, e.bus, e.env(), ptDesktopName, ptUpstreamFrontend)

	// Above the threshold: no chooser, the stored handler is launched.
	code, _ := ptRequest(t, e.conn, "OpenURI.OpenURI", "", "porthole-test://first", map[string]dbus.Variant{})
	if code != 0 {
		t.Errorf("OpenURI with a stored choice: Response %d, want 0", code)
	}
	if n := e.backend.count("AppChooser.ChooseApplication"); n != 0 {
		t.Errorf("chooser called %d times despite the stored choice", n)
	}
	for {
		if b, _ := os.ReadFile(filepath.Join(e.files, "launched2")); string(b) == "porthole-test://first\n" {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}

	// With ask: the chooser gets the stored choice; its answer is stored.
	code, _ = ptRequest(t, e.conn, "OpenURI.OpenURI", "", "porthole-test://second", map[string]dbus.Variant{"ask": dbus.MakeVariant(true)})
	if code != 0 {
		t.Errorf("OpenURI with ask: Response %d, want 0", code)
	}
	c := e.backend.last(t, "AppChooser.ChooseApplication")
	if o := c.Args[4].(ptResults); o["last_choice"].Value() != "org.example.Handler2" || o["content_type"].Value() != ctype {
		t.Errorf("chooser options %v, want last_choice org.example.Handler2 from our store", o)
	}
	var perms []string
	if err := store.Call(psIface+".GetPermission", 0, table, ctype, "").Store(&perms); err != nil {
		t.Fatal(err)
	}
	if len(perms) != 3 || perms[0] != ptHandlerID || perms[1] != "1" || perms[2] != "3" {
		t.Errorf("stored choice after the chooser = %q, want [%s 1 3]", perms, ptHandlerID)
	}
}
