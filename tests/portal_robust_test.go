package tests

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/godbus/dbus/v5"
)

// ptFDs counts the open file descriptors of pid.
func ptFDs(t testing.TB, pid int) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// ptExported reports whether path is an exported Request or Session
// object of the frontend (asked through Introspect).
func ptExported(conn *dbus.Conn, path dbus.ObjectPath) bool {
	var xml string
	if err := conn.Object(ptDesktopName, path).Call("org.freedesktop.DBus.Introspectable.Introspect", 0).Store(&xml); err != nil {
		return false
	}
	return strings.Contains(xml, "org.freedesktop.portal.Request") || strings.Contains(xml, "org.freedesktop.portal.Session")
}

// TestPortalStress: 50 clients make 200 requests each in parallel (file
// chooser requests and, every tenth, a Location session); every other
// client drops its connection while its requests are in flight. The
// frontend answers the others, survives, and afterwards has no Request
// or Session object exported and no more file descriptors than before.
func TestPortalStress(t *testing.T) {
	e := ptSetup(t)
	fe := e.startFrontend(t, true)
	pid := fe.cmd.Process.Pid
	// Warm up: the first request opens the frontend's lazily made
	// connections (permission store, system bus peers).
	if code, _ := ptRequest(t, e.conn, "FileChooser.OpenFile", "", "warm-up", map[string]dbus.Variant{}); code != 0 {
		t.Fatalf("warm-up Response %d", code)
	}
	// The probe for leftovers sees a pending request.
	release := make(chan struct{})
	e.backend.setGate(func(uint32) { <-release })
	call := e.portal().Go(ptPortal+"FileChooser.OpenFile", 0, nil, "", "held", map[string]dbus.Variant{"handle_token": dbus.MakeVariant("held")})
	e.backend.waitCall(t, "FileChooser.OpenFile", 2)
	if held := dbus.ObjectPath("/org/freedesktop/portal/desktop/request/" + strings.ReplaceAll(strings.TrimPrefix(e.conn.Names()[0], ":"), ".", "_") + "/held"); !ptExported(e.conn, held) {
		t.Fatalf("pending request %s not seen as exported", held)
	}
	e.backend.setGate(func(uint32) {})
	close(release)
	<-call.Done
	baseFD := ptFDs(t, pid)

	const clients, requests = 50, 200
	type client struct {
		name   string
		closed bool
	}
	all := make([]client, clients)
	var wg sync.WaitGroup
	errs := make(chan error, clients*requests)
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c, err := dbus.Connect(e.bus.Address())
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			all[i].name = c.Names()[0]
			ch := make(chan *dbus.Signal, requests)
			c.Signal(ch)
			if err := c.AddMatchSignal(dbus.WithMatchInterface("org.freedesktop.portal.Request"), dbus.WithMatchMember("Response")); err != nil {
				errs <- err
				return
			}
			obj := c.Object(ptDesktopName, ptDesktopPath)
			// The test bus allows the frontend 128 pending calls to the
			// backend: each client keeps at most 2 requests in flight.
			outstanding := 0
			response := func() bool {
				sig := <-ch
				for sig.Name != "org.freedesktop.portal.Request.Response" {
					sig = <-ch
				}
				outstanding--
				if code := sig.Body[0].(uint32); code != 0 {
					errs <- fmt.Errorf("client %d: Response %d on %s", i, code, sig.Path)
					return false
				}
				return true
			}
			vanish := i%2 == 0
			for j := 0; j < requests; j++ {
				if j%10 == 9 {
					if err := obj.Call(ptPortal+"Location.CreateSession", 0, map[string]dbus.Variant{
						"session_handle_token": dbus.MakeVariant(fmt.Sprintf("s%d", j))}).Err; err != nil {
						errs <- fmt.Errorf("client %d: CreateSession: %w", i, err)
						return
					}
					continue
				}
				for outstanding >= 2 {
					if !response() {
						return
					}
				}
				opts := map[string]dbus.Variant{"handle_token": dbus.MakeVariant(fmt.Sprintf("r%d", j))}
				if vanish && j >= requests-2 { // the last request (199 makes a session)
					// Vanish with one request waiting for its Response
					// and one call not even answered yet.
					obj.Go(ptPortal+"FileChooser.OpenFile", 0, nil, "", "stress", opts)
					all[i].closed = true
					return
				}
				if err := obj.Call(ptPortal+"FileChooser.OpenFile", 0, "", "stress", opts).Err; err != nil {
					errs <- fmt.Errorf("client %d: OpenFile: %w", i, err)
					return
				}
				outstanding++
			}
			for outstanding > 0 {
				if !response() {
					return
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if !fe.alive() {
		t.Fatalf("frontend died:\n%s", fe.log)
	}
	// Every client is gone now: none of their objects may remain. The
	// frontend handles a caller's disconnection asynchronously: wait for
	// it with round trips, not with timers.
	var paths []dbus.ObjectPath
	for _, c := range all {
		if c.name == "" {
			continue
		}
		sender := strings.ReplaceAll(strings.TrimPrefix(c.name, ":"), ".", "_")
		for j := 0; j < requests; j++ {
			path := dbus.ObjectPath(fmt.Sprintf("/org/freedesktop/portal/desktop/request/%s/r%d", sender, j))
			if j%10 == 9 {
				path = dbus.ObjectPath(fmt.Sprintf("/org/freedesktop/portal/desktop/session/%s/s%d", sender, j))
			}
			paths = append(paths, path)
		}
	}
	for round := 0; len(paths) > 0; round++ {
		var left []dbus.ObjectPath
		for _, p := range paths {
			if ptExported(e.conn, p) {
				left = append(left, p)
			}
		}
		paths = left
		if len(paths) > 0 && round > 200 {
			t.Fatalf("%d objects still exported, like %s", len(paths), paths[0])
		}
	}
	// File descriptors of finished requests are closed asynchronously:
	// wait with round trips to the frontend, not with timers.
	for i := 0; ptFDs(t, pid) > baseFD; i++ {
		if i > 2000 {
			t.Fatalf("frontend has %d fds, %d before the clients", ptFDs(t, pid), baseFD)
		}
		_ = e.portal().Call("org.freedesktop.DBus.Peer.Ping", 0).Err
	}
	if err := fe.stop(); err != nil {
		t.Errorf("frontend exit on SIGHUP: %v\n%s", err, fe.log)
	}
}

// ptWrongValue is a value of another type than sig.
func ptWrongValue(sig string) dbus.Variant {
	if sig == "s" {
		return dbus.MakeVariant(uint32(1))
	}
	return dbus.MakeVariant("wrong")
}

// TestPortalInvalidOptions sends each known option of each portal method
// with a wrong type. Where upstream checks option types (FileChooser,
// Email, Background, Notification; Location, Inhibit's monitor and our
// request tokens too) the call fails with InvalidArgument; where upstream
// drops such options silently (Account, Screenshot, Print, Wallpaper,
// Inhibit, OpenURI) the request goes on without it.
func TestPortalInvalidOptions(t *testing.T) {
	e := ptSetup(t)
	e.startFrontend(t, true)
	type method struct {
		name    string
		args    func(opts map[string]dbus.Variant) []any
		options map[string]string
		strict  bool
		backend string // the backend method that gets the options (lenient ones)
		optArg  int    // index of the options among its arguments
	}
	o := func(opts map[string]dbus.Variant) map[string]dbus.Variant { return opts }
	methods := []method{
		{"FileChooser.OpenFile", func(m map[string]dbus.Variant) []any { return []any{"", "t", o(m)} },
			map[string]string{"handle_token": "s", "accept_label": "s", "modal": "b", "multiple": "b", "directory": "b", "filters": "a(sa(us))",
				"current_filter": "(sa(us))", "choices": "a(ssa(ss)s)"}, true, "", 0},
		{"FileChooser.SaveFile", func(m map[string]dbus.Variant) []any { return []any{"", "t", o(m)} },
			map[string]string{"handle_token": "s", "accept_label": "s", "modal": "b", "filters": "a(sa(us))", "current_filter": "(sa(us))",
				"current_name": "s", "choices": "a(ssa(ss)s)"}, true, "", 0},
		// Upstream looks these up by type, ignoring other types.
		{"FileChooser.OpenFile", func(m map[string]dbus.Variant) []any { return []any{"", "t", o(m)} },
			map[string]string{"current_folder": "ay"}, false, "FileChooser.OpenFile", 4},
		{"FileChooser.SaveFile", func(m map[string]dbus.Variant) []any { return []any{"", "t", o(m)} },
			map[string]string{"current_folder": "ay", "current_file": "ay"}, false, "FileChooser.SaveFile", 4},
		{"FileChooser.SaveFiles", func(m map[string]dbus.Variant) []any { return []any{"", "t", o(m)} },
			map[string]string{"handle_token": "s", "accept_label": "s", "modal": "b", "choices": "a(ssa(ss)s)", "current_folder": "ay", "files": "aay"}, true, "", 0},
		{"Email.ComposeEmail", func(m map[string]dbus.Variant) []any { return []any{"", o(m)} },
			map[string]string{"handle_token": "s", "address": "s", "addresses": "as", "cc": "as", "bcc": "as", "subject": "s", "body": "s",
				"activation_token": "s", "attachment_fds": "ah"}, true, "", 0},
		{"Background.RequestBackground", func(m map[string]dbus.Variant) []any { return []any{"", o(m)} },
			map[string]string{"handle_token": "s", "reason": "s", "autostart": "b", "commandline": "as", "dbus-activatable": "b"}, true, "", 0},
		{"Background.SetStatus", func(m map[string]dbus.Variant) []any { return []any{o(m)} },
			map[string]string{"message": "s"}, true, "", 0},
		{"Notification.AddNotification", func(m map[string]dbus.Variant) []any { return []any{"n", o(m)} },
			map[string]string{"title": "s", "body": "s", "markup-body": "s", "priority": "s", "default-action": "s", "buttons": "aa{sv}",
				"category": "s", "display-hint": "as"}, true, "", 0},
		{"Location.CreateSession", func(m map[string]dbus.Variant) []any { return []any{o(m)} },
			map[string]string{"session_handle_token": "s", "distance-threshold": "u", "time-threshold": "u", "accuracy": "u"}, true, "", 0},
		{"Account.GetUserInformation", func(m map[string]dbus.Variant) []any { return []any{"", o(m)} },
			map[string]string{"reason": "s"}, false, "Account.GetUserInformation", 3},
		{"Screenshot.Screenshot", func(m map[string]dbus.Variant) []any { return []any{"", o(m)} },
			map[string]string{"modal": "b", "interactive": "b"}, false, "Screenshot.Screenshot", 3},
		{"Print.PreparePrint", func(m map[string]dbus.Variant) []any {
			return []any{"", "t", map[string]dbus.Variant{}, map[string]dbus.Variant{}, o(m)}
		},
			map[string]string{"modal": "b", "accept_label": "s"}, false, "Print.PreparePrint", 6},
		{"Wallpaper.SetWallpaperURI", func(m map[string]dbus.Variant) []any { return []any{"", "file:///x.png", o(m)} },
			map[string]string{"show-preview": "b", "set-on": "s"}, false, "Wallpaper.SetWallpaperURI", 4},
		{"Inhibit.Inhibit", func(m map[string]dbus.Variant) []any { return []any{"", uint32(8), o(m)} },
			map[string]string{"reason": "s"}, false, "Inhibit.Inhibit", 4},
		// With ask dropped and one handler, no chooser is needed.
		{"OpenURI.OpenURI", func(m map[string]dbus.Variant) []any { return []any{"", "porthole-test://x", o(m)} },
			map[string]string{"ask": "b", "activation_token": "s"}, false, "", 0},
	}
	for _, m := range methods {
		for key, sig := range m.options {
			opts := map[string]dbus.Variant{key: ptWrongValue(sig)}
			if m.strict {
				err := e.portal().Call(ptPortal+m.name, 0, m.args(opts)...).Err
				if ptErrName(err) != "org.freedesktop.portal.Error.InvalidArgument" {
					t.Errorf("%s with %s of the wrong type = %v, want InvalidArgument", m.name, key, err)
				}
				continue
			}
			opts["handle_token"] = dbus.MakeVariant("bad")
			n := e.backend.count(m.backend)
			if code, _ := ptRequest(t, e.conn, m.name, m.args(opts)...); code != 0 {
				t.Errorf("%s with %s of the wrong type: Response %d, want 0", m.name, key, code)
			}
			if m.backend == "" {
				continue
			}
			if e.backend.count(m.backend) != n+1 {
				t.Errorf("%s with %s of the wrong type: backend not called", m.name, key)
				continue
			}
			if fwd := e.backend.last(t, m.backend).Args[m.optArg].(ptResults); fwd[key].Signature().String() != "" {
				t.Errorf("%s forwarded %s of the wrong type: %v", m.name, key, fwd)
			}
		}
	}
	if !e.frontend.alive() {
		t.Fatalf("frontend died:\n%s", e.frontend.log)
	}
}

// TestPortalBackendVanishes: the backend leaves while requests wait for
// it. Each gets Response 2, later requests too, and the frontend stays
// up.
func TestPortalBackendVanishes(t *testing.T) {
	e := ptSetup(t)
	fe := e.startFrontend(t, true)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	e.backend.setGate(func(uint32) { <-release })
	ch := make(chan *dbus.Signal, 16)
	e.conn.Signal(ch)
	if err := e.conn.AddMatchSignal(dbus.WithMatchInterface("org.freedesktop.portal.Request"), dbus.WithMatchMember("Response")); err != nil {
		t.Fatal(err)
	}
	const n = 5
	handles := map[dbus.ObjectPath]bool{}
	for i := 0; i < n; i++ {
		var h dbus.ObjectPath
		if err := e.portal().Call(ptPortal+"FileChooser.OpenFile", 0, "", "t", map[string]dbus.Variant{
			"handle_token": dbus.MakeVariant(fmt.Sprintf("v%d", i))}).Store(&h); err != nil {
			t.Fatal(err)
		}
		handles[h] = true
	}
	e.backend.waitCall(t, "FileChooser.OpenFile", n)
	e.backend.conn.Close()
	for len(handles) > 0 {
		sig := <-ch
		if sig.Name != "org.freedesktop.portal.Request.Response" || !handles[sig.Path] {
			continue
		}
		delete(handles, sig.Path)
		if code := sig.Body[0].(uint32); code != 2 {
			t.Errorf("Response on %s after the backend left = %d, want 2", sig.Path, code)
		}
	}
	if code, _ := ptRequest(t, e.conn, "FileChooser.OpenFile", "", "t", map[string]dbus.Variant{}); code != 2 {
		t.Errorf("Response without a backend = %d, want 2", code)
	}
	if !fe.alive() {
		t.Fatalf("frontend died:\n%s", fe.log)
	}
	if err := fe.stop(); err != nil {
		t.Errorf("frontend exit on SIGHUP: %v\n%s", err, fe.log)
	}
}
