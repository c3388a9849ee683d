package tests

import (
	"fmt"
	"io"
	"syscall"

	"github.com/godbus/dbus/v5"
	"golang.org/x/sys/unix"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/porthole-dev/porthole/internal/testenv"
)

// gdbusCall runs `gdbus call` against the frontend with args (GVariant
// text, parsed by gdbus with the frontend's introspection data); extra
// files become the child's fds 3, 4, ...
func (e *ptEnv) gdbusCall(t *testing.T, method string, extra []*os.File, args ...string) (string, error) {
	t.Helper()
	argv := append([]string{"call", "--session", "--dest", ptDesktopName, "--object-path", string(ptDesktopPath), "--method", method}, args...)
	cmd := exec.Command("gdbus", argv...)
	cmd.Env = e.env()
	cmd.ExtraFiles = extra
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// gdbusHeld runs `gdbus call` for a request method and holds the client
// on the bus until the Response arrived: gdbus exits right after printing
// the method reply, and a caller that left gets no Response (its request
// is closed). Its stdout is a pipe that is full until the Response was
// seen, so printing blocks. mon sees the unicast Response.
func (e *ptEnv) gdbusHeld(t *testing.T, mon chan *dbus.Message, method string, extra []*os.File, args ...string) (out string, code uint32, results map[string]dbus.Variant) {
	t.Helper()
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	r, w := os.NewFile(uintptr(p[0]), "r"), os.NewFile(uintptr(p[1]), "w")
	defer r.Close()
	unix.FcntlInt(w.Fd(), unix.F_SETPIPE_SZ, 4096)
	// Fill the pipe while it does not block, then make it blocking again.
	unix.SetNonblock(p[1], true)
	filler := make([]byte, 4096)
	var fill int
	for {
		n, err := unix.Write(p[1], filler)
		fill += max(n, 0)
		if err != nil {
			break
		}
	}
	unix.SetNonblock(p[1], false)
	argv := append([]string{"call", "--session", "--dest", ptDesktopName, "--object-path", string(ptDesktopPath), "--method", method}, args...)
	cmd := exec.Command("gdbus", argv...)
	cmd.Env = e.env()
	cmd.ExtraFiles = extra
	cmd.Stdout = w
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var sig *dbus.Message
	for sig == nil {
		select {
		case m := <-mon:
			if m.Type == dbus.TypeSignal && m.Headers[dbus.FieldMember].Value() == "Response" {
				sig = m
			}
		case err := <-done:
			t.Fatalf("gdbus %s exited before a Response: %v %s", method, err, stderr.String())
		}
	}
	data, _ := io.ReadAll(r)
	if err := <-done; err != nil || len(data) < fill {
		t.Fatalf("gdbus %s: %v %s", method, err, stderr.String())
	}
	out = strings.TrimSpace(string(data[fill:]))
	if want := fmt.Sprintf("(objectpath '%s',)", sig.Headers[dbus.FieldPath].Value()); out != want {
		t.Errorf("%s printed %q, Response came on %s", method, out, want)
	}
	return out, sig.Body[0].(uint32), sig.Body[1].(map[string]dbus.Variant)
}

// ptMonitor turns a new connection to bus into a monitor of Response
// signals.
func ptMonitor(t *testing.T, addr string) chan *dbus.Message {
	t.Helper()
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	rule := "type='signal',interface='org.freedesktop.portal.Request',member='Response'"
	if err := conn.BusObject().Call("org.freedesktop.DBus.Monitoring.BecomeMonitor", 0, []string{rule}, uint32(0)).Err; err != nil {
		t.Fatalf("BecomeMonitor: %v", err)
	}
	// Nothing is in flight yet: take every message from now on.
	ch := make(chan *dbus.Message, 64)
	conn.Eavesdrop(ch)
	return ch
}

// ptHandleRE matches gdbus's print of a request handle with token gd.
var ptHandleRE = regexp.MustCompile(`^\(objectpath '/org/freedesktop/portal/desktop/request/1_[0-9]+/gd',\)$`)

// TestPortalGDBus calls every portal with `gdbus call` (GLib's client,
// which builds the message from the frontend's introspection data) and
// checks the answers and what the backend was asked. gdbus exits after
// the method reply, before a Response could arrive: request methods are
// checked through their handle and the backend call; the Go clients
// (rymdport, libportal) check Responses.
func TestPortalGDBus(t *testing.T) {
	testenv.Require(t, testenv.HaveCommand("gdbus"), "needs gdbus (Debian package libglib2.0-bin)")
	e := ptSetup(t)
	e.startFrontend(t, true)
	tok := "'handle_token': <'gd'>"

	direct := []struct {
		method string
		args   []string
		want   string // output, or an error name prefixed with "!"
	}{
		{"org.freedesktop.portal.Settings.ReadOne", []string{"org.example.test", "greeting"}, "(<'hello'>,)"},
		{"org.freedesktop.portal.Settings.Read", []string{"org.freedesktop.appearance", "color-scheme"}, "(<<uint32 1>>,)"},
		{"org.freedesktop.portal.Settings.ReadAll", []string{"['org.example.*']"}, "({'org.example.test': {'greeting': <'hello'>}},)"},
		{"org.freedesktop.portal.Settings.ReadOne", []string{"org.example.test", "nope"}, "!org.freedesktop.portal.Error.NotFound"},
		{"org.freedesktop.portal.NetworkMonitor.GetConnectivity", nil, "(uint32 4,)"},
		{"org.freedesktop.portal.NetworkMonitor.GetMetered", nil, "(true,)"},
		{"org.freedesktop.portal.NetworkMonitor.CanReach", []string{"localhost", "1"}, "(true,)"},
		{"org.freedesktop.portal.ProxyResolver.Lookup", []string{"https://example.com/"}, "(['direct://'],)"},
		{"org.freedesktop.portal.OpenURI.SchemeSupported", []string{"porthole-test", "{}"}, "(true,)"},
		{"org.freedesktop.portal.OpenURI.SchemeSupported", []string{"no-such-scheme", "{}"}, "(false,)"},
		{"org.freedesktop.portal.Notification.AddNotification", []string{"n1", "{'title': <'Title'>, 'body': <'Body'>, 'priority': <'urgent'>}"}, "()"},
		{"org.freedesktop.portal.Notification.AddNotification", []string{"n2", "{'priority': <'loud'>}"}, "!org.freedesktop.portal.Error.InvalidArgument"},
		{"org.freedesktop.portal.Notification.RemoveNotification", []string{"n1"}, "()"},
		{"org.freedesktop.portal.Inhibit.Inhibit", []string{"", "16", "{}"}, "!org.freedesktop.portal.Error.InvalidArgument"},
		{"org.freedesktop.portal.Background.SetStatus", []string{"{'message': <'busy'>}"}, "!org.freedesktop.portal.Error.NotAllowed"},
		{"org.freedesktop.host.portal.Registry.Register", []string{"org.example.Other", "{}"}, "()"},
		{"org.freedesktop.portal.Location.CreateSession", []string{"{'session_handle_token': <'gd'>, 'accuracy': <uint32 3>}"}, "~^\\(objectpath '/org/freedesktop/portal/desktop/session/1_[0-9]+/gd',\\)$"},
		{"org.freedesktop.DBus.Properties.Get", []string{"org.freedesktop.portal.Settings", "version"}, "(<uint32 2>,)"},
	}
	for _, c := range direct {
		out, err := e.gdbusCall(t, c.method, nil, c.args...)
		switch {
		case strings.HasPrefix(c.want, "!"):
			if err == nil || !strings.Contains(out, "GDBus.Error:"+c.want[1:]) {
				t.Errorf("%s%q = %q, %v; want error %s", c.method, c.args, out, err, c.want[1:])
			}
		case strings.HasPrefix(c.want, "~"):
			if err != nil || !regexp.MustCompile(c.want[1:]).MatchString(out) {
				t.Errorf("%s%q = %q, %v; want match %s", c.method, c.args, out, err, c.want[1:])
			}
		default:
			if err != nil || out != c.want {
				t.Errorf("%s%q = %q, %v; want %s", c.method, c.args, out, err, c.want)
			}
		}
	}
	if c := e.backend.last(t, "Notification.AddNotification"); c.Args[0] != ptAppID || c.Args[1] != "n1" ||
		fmt.Sprint(c.Args[2]) != `map[body:"Body" priority:"urgent" title:"Title"]` {
		t.Errorf("backend AddNotification = %v", c.Args)
	}
	if c := e.backend.last(t, "Notification.RemoveNotification"); c.Args[0] != ptAppID || c.Args[1] != "n1" {
		t.Errorf("backend RemoveNotification = %v", c.Args)
	}
	out, err := e.gdbusCall(t, "org.freedesktop.portal.NetworkMonitor.GetStatus", nil)
	if err != nil || !strings.Contains(out, "'metered': <true>") || !strings.Contains(out, "'connectivity': <uint32 4>") || !strings.Contains(out, "'available': <") {
		t.Errorf("GetStatus = %q, %v", out, err)
	}

	// Request methods: the Response and what the backend was asked.
	mon := ptMonitor(t, e.bus.Address())
	file := func(name string) string { return "file://" + filepath.Join(e.files, name) }
	pf, err := os.Open(e.file(t, "print.ps", "%!PS-Adobe-3.0\n"))
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	requests := []struct {
		method  string
		fds     []*os.File
		args    []string
		backend string // "" when the frontend decides alone
		check   func(c ptCall) bool
		want    string // the Response: code and results
	}{
		{"org.freedesktop.portal.FileChooser.OpenFile", nil, []string{"x11:1a", "Pick one", "{" + tok + ", 'multiple': <true>, 'directory': <false>}"},
			"FileChooser.OpenFile", func(c ptCall) bool {
				return c.Args[1] == ptAppID && c.Args[2] == "x11:1a" && c.Args[3] == "Pick one" && fmt.Sprint(c.Args[4]) == "map[directory:false multiple:true]"
			}, "0 map[choices:[[encoding utf8]] uris:[" + file("open.txt") + "]]"},
		{"org.freedesktop.portal.FileChooser.SaveFile", nil, []string{"", "Save", "{" + tok + ", 'current_name': <'x.txt'>}"},
			"FileChooser.SaveFile", func(c ptCall) bool { return fmt.Sprint(c.Args[4]) == `map[current_name:"x.txt"]` },
			"0 map[uris:[" + file("save.txt") + "]]"},
		{"org.freedesktop.portal.FileChooser.SaveFiles", nil, []string{"", "Save all", "{" + tok + ", 'files': <[b'a.txt', b'b.txt']>}"},
			"FileChooser.SaveFiles", func(c ptCall) bool { return c.Args[3] == "Save all" },
			"0 map[uris:[" + file("a.txt") + " " + file("b.txt") + "]]"},
		{"org.freedesktop.portal.OpenURI.OpenURI", nil, []string{"", "porthole-test://gdbus", "{" + tok + ", 'ask': <true>}"},
			"AppChooser.ChooseApplication", func(c ptCall) bool {
				o := c.Args[4].(ptResults)
				return c.Args[1] == ptAppID && strings.Contains(ptString(c.Args[3]), ptHandlerID) && o["uri"].Value() == "porthole-test://gdbus"
			}, "0 map[]"},
		{"org.freedesktop.portal.OpenURI.OpenURI", nil, []string{"", "file:///etc/hostname", "{" + tok + "}"}, "", nil, "2 map[]"},
		{"org.freedesktop.portal.OpenURI.OpenFile", []*os.File{pf}, []string{"", "3", "{" + tok + ", 'ask': <true>}"},
			"AppChooser.ChooseApplication", func(c ptCall) bool { return c.Args[4].(ptResults)["filename"].Value() == "print.ps" }, "0 map[]"},
		{"org.freedesktop.portal.Inhibit.Inhibit", nil, []string{"", "12", "{" + tok + ", 'reason': <'playing'>}"},
			"Inhibit.Inhibit", func(c ptCall) bool {
				return c.Args[1] == ptAppID && c.Args[3] == uint32(12) && c.Args[4].(ptResults)["reason"].Value() == "playing"
			}, "0 map[]"},
		{"org.freedesktop.portal.Inhibit.CreateMonitor", nil, []string{"", "{" + tok + ", 'session_handle_token': <'mon'>}"},
			"Inhibit.CreateMonitor", func(c ptCall) bool { return strings.HasSuffix(fmt.Sprint(c.Args[1]), "/mon") && c.Args[2] == ptAppID }, "~^0 map\\[session_handle:/org/freedesktop/portal/desktop/session/1_[0-9]+/mon\\]$"},
		{"org.freedesktop.portal.Print.PreparePrint", nil, []string{"", "Doc", "{'n-copies': <'3'>}", "{'PPDName': <'iso_a4'>}", "{" + tok + ", 'modal': <false>}"},
			"Print.PreparePrint", func(c ptCall) bool {
				return c.Args[3] == "Doc" && fmt.Sprint(c.Args[4]) == `map[n-copies:"3"]` && fmt.Sprint(c.Args[6]) == "map[modal:false]"
			}, `0 map[page-setup:map[PPDName:"iso_a4"] settings:map[n-copies:"2"] token:7]`},
		{"org.freedesktop.portal.Print.Print", []*os.File{pf}, []string{"", "Doc", "3", "{" + tok + ", 'token': <uint32 7>}"},
			"Print.Print", func(c ptCall) bool {
				return c.Args[4] == "%!PS-Adobe-3.0\n" && c.Args[5].(ptResults)["token"].Value() == uint32(7)
			}, "0 map[]"},
		{"org.freedesktop.portal.Account.GetUserInformation", nil, []string{"", "{" + tok + ", 'reason': <'greet you'>}"},
			"Account.GetUserInformation", func(c ptCall) bool { return c.Args[1] == ptAppID && fmt.Sprint(c.Args[3]) == `map[reason:"greet you"]` },
			"0 map[id:alice image:" + file("face.png") + " name:Alice Liddell]"},
		{"org.freedesktop.portal.Email.ComposeEmail", nil, []string{"", "{" + tok + ", 'addresses': <['ann@example.com']>, 'subject': <'Hi'>, 'body': <'text'>}"},
			"Email.ComposeEmail", func(c ptCall) bool {
				return c.Args[1] == ptAppID && fmt.Sprint(c.Args[3].(ptResults)["addresses"].Value()) == "[ann@example.com]" && c.Args[3].(ptResults)["subject"].Value() == "Hi"
			}, "0 map[]"},
		{"org.freedesktop.portal.Screenshot.Screenshot", nil, []string{"", "{" + tok + ", 'interactive': <true>}"},
			"Screenshot.Screenshot", func(c ptCall) bool {
				return c.Args[1] == ptAppID && c.Args[3].(ptResults)["interactive"].Value() == true
			},
			"0 map[uri:" + file("shot.png") + "]"},
		{"org.freedesktop.portal.Screenshot.PickColor", nil, []string{"", "{" + tok + "}"},
			"Screenshot.PickColor", func(c ptCall) bool { return c.Args[1] == ptAppID }, "0 map[color:[0.25 0.5 0.75]]"},
		{"org.freedesktop.portal.Wallpaper.SetWallpaperURI", nil, []string{"", "file:///usr/share/backgrounds/x.png", "{" + tok + ", 'set-on': <'lockscreen'>, 'show-preview': <false>}"},
			"Wallpaper.SetWallpaperURI", func(c ptCall) bool {
				return c.Args[3] == "file:///usr/share/backgrounds/x.png" && c.Args[4].(ptResults)["set-on"].Value() == "lockscreen"
			}, "0 map[]"},
		{"org.freedesktop.portal.Wallpaper.SetWallpaperFile", []*os.File{pf}, []string{"", "3", "{" + tok + "}"},
			"Wallpaper.SetWallpaperURI", func(c ptCall) bool { return c.Args[3] == file("print.ps") }, "0 map[]"},
		{"org.freedesktop.portal.Background.RequestBackground", nil, []string{"", "{" + tok + ", 'reason': <'sync'>, 'autostart': <true>, 'commandline': <['tool', '--bg']>}"},
			"", nil, "0 map[autostart:true background:true]"},
	}
	for _, r := range requests {
		n := e.backend.count(r.backend)
		out, code, res := e.gdbusHeld(t, mon, r.method, r.fds, r.args...)
		if !ptHandleRE.MatchString(out) && !strings.HasSuffix(out, "/t',)") {
			t.Errorf("%s printed %q, want a request handle", r.method, out)
		}
		got := fmt.Sprint(code, " ", ptPlain(res))
		if strings.HasPrefix(r.want, "~") {
			if !regexp.MustCompile(r.want[1:]).MatchString(got) {
				t.Errorf("%s: Response %s, want match %s", r.method, got, r.want[1:])
			}
		} else if got != r.want {
			t.Errorf("%s: Response %s, want %s", r.method, got, r.want)
		}
		if r.backend == "" {
			continue
		}
		if e.backend.count(r.backend) != n+1 {
			t.Errorf("%s: backend %s called %d times, want once", r.method, r.backend, e.backend.count(r.backend)-n)
			continue
		}
		if c := e.backend.last(t, r.backend); !r.check(c) {
			t.Errorf("%s: backend %s got %v", r.method, r.backend, c.Args)
		}
	}
	if data, err := os.ReadFile(filepath.Join(e.root, "config/autostart", ptAppID+".desktop")); err != nil || !strings.Contains(string(data), "Exec=tool --bg\n") {
		t.Errorf("autostart file = %q, %v", data, err)
	}

	// The chosen handler ran with the URI and the file (on its own: wait
	// for its output).
	for {
		data, _ := os.ReadFile(filepath.Join(e.files, "launched"))
		if strings.Contains(string(data), "porthole-test://gdbus\n") && strings.Contains(string(data), file("print.ps")+"\n") {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Trash answers directly; gdbus passes its fd N for a handle argument N.
	junk := e.file(t, "junk", "x")
	jf, err := os.OpenFile(junk, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer jf.Close()
	if out, err := e.gdbusCall(t, "org.freedesktop.portal.Trash.TrashFile", []*os.File{jf}, "3"); err != nil || out != "(uint32 1,)" {
		t.Errorf("TrashFile = %q, %v; want (uint32 1,)", out, err)
	}
	if _, err := os.Stat(junk); !os.IsNotExist(err) {
		t.Errorf("trashed file still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(e.root, "data/Trash/files/junk")); err != nil {
		t.Errorf("not in the trash: %v", err)
	}

	if !e.frontend.alive() {
		t.Fatalf("frontend died:\n%s", e.frontend.log)
	}
	if err := e.frontend.stop(); err != nil {
		t.Errorf("frontend exit on SIGHUP: %v\n%s", err, e.frontend.log)
	}
}

// ptPlain prints results with variants unwrapped.
func ptPlain(m map[string]dbus.Variant) string {
	plain := map[string]any{}
	for k, v := range m {
		plain[k] = v.Value()
	}
	return fmt.Sprint(plain)
}
