package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/google/go-cmp/cmp"
)

// ptSleeper starts a process that lives until the test ends (or is
// killed) and returns it with a channel closed when it exits.
func ptSleeper(t *testing.T) (*exec.Cmd, chan struct{}) {
	t.Helper()
	cmd := exec.Command("sleep", "1000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-done })
	return cmd, done
}

// TestPortalBackgroundMonitor: sandbox instances (directories under
// $XDG_RUNTIME_DIR/.flatpak as flatpak and porthole run write them) of
// apps in the background are handled by their "background" permission:
// no kills the app, unset asks the backend with NotifyBackground and
// stores the answer (forbid also kills), yes and apps the backend reports
// active are left alone.
func TestPortalBackgroundMonitor(t *testing.T) {
	e := ptSetup(t)
	store := e.conn.Object(psName, psPath)
	for app, perm := range map[string]string{"org.example.No": "no", "org.example.Yes": "yes"} {
		if err := store.Call(psIface+".SetPermission", 0, "background", true, "background", app, []string{perm}).Err; err != nil {
			t.Fatal(err)
		}
	}
	// Directory names give the monitor's order: the synchronous kill of
	// org.example.No comes last in a check.
	apps := []string{"org.example.Yes", "org.example.Active", "org.example.Ask", "org.example.Forbid", "org.example.No"}
	children := map[string]chan struct{}{}
	for i, app := range apps {
		launcher, _ := ptSleeper(t)
		child, done := ptSleeper(t)
		children[app] = done
		dir := filepath.Join(e.root, "run/.flatpak", strconv.Itoa(i+1))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		files := map[string]string{
			"info":           fmt.Sprintf("[Application]\nname=%s\nruntime=runtime/org.test.Platform/x86_64/master\n\n[Instance]\ninstance-id=%d\n", app, i+1),
			"pid":            strconv.Itoa(launcher.Process.Pid),
			"bwrapinfo.json": fmt.Sprintf("{\"child-pid\": %d}\n", child.Process.Pid),
		}
		for n, data := range files {
			if err := os.WriteFile(filepath.Join(dir, n), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Without a pause between the checks that follow the start.
	e.extraEnv = []string{"PORTHOLE_TEST_BACKGROUND_INTERVAL=0s"}
	e.startFrontend(t, false)

	<-children["org.example.No"]     // killed for its permission
	<-children["org.example.Forbid"] // killed after the user's answer
	c := e.backend.waitCall(t, "Background.NotifyBackground", 2)
	notified := map[string]bool{}
	e.backend.mu.Lock()
	for _, c := range e.backend.calls {
		if c.Method == "Background.NotifyBackground" {
			notified[c.Args[1].(string)] = true
		}
	}
	e.backend.mu.Unlock()
	if diff := cmp.Diff(map[string]bool{"org.example.Ask": true, "org.example.Forbid": true}, notified); diff != "" {
		t.Errorf("NotifyBackground for (-want +got):\n%s", diff)
	}
	if h := fmt.Sprint(c.Args[0]); filepath.Dir(h) != "/org/freedesktop/portal/desktop/notify" {
		t.Errorf("NotifyBackground handle %s", h)
	}
	// The answers are stored after NotifyBackground returned: wait with
	// round trips to the store.
	want := map[string]string{"org.example.Ask": "yes", "org.example.Forbid": "no", "org.example.No": "no", "org.example.Yes": "yes"}
	for i := 0; ; i++ {
		var perms map[string][]string
		var data any
		if err := store.Call(psIface+".Lookup", 0, "background", "background").Store(&perms, &data); err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for app, p := range perms {
			got[app] = p[0]
		}
		if cmp.Equal(want, got) {
			break
		}
		if i > 1000 {
			t.Fatalf("background permissions (-want +got):\n%s", cmp.Diff(want, got))
		}
	}
	// org.freedesktop.background.Monitor lists the instances in the
	// background (org.example.No was killed, Active is not in the
	// background); published at the end of a check.
	monitor := e.conn.Object("org.freedesktop.background.Monitor", "/org/freedesktop/background/monitor")
	wantApps := "[map[app_id:org.example.Yes instance:1] map[app_id:org.example.Ask instance:3] map[app_id:org.example.Forbid instance:4]]"
	for i := 0; ; i++ {
		var v dbus.Variant
		if err := monitor.Call("org.freedesktop.DBus.Properties.Get", 0, "org.freedesktop.background.Monitor", "BackgroundApps").Store(&v); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range v.Value().([]map[string]dbus.Variant) {
			got = append(got, ptPlain(m))
		}
		if s := "[" + strings.Join(got, " ") + "]"; s == wantApps {
			break
		} else if i > 1000 {
			t.Fatalf("BackgroundApps = %s, want %s", s, wantApps)
		}
	}
	for _, app := range []string{"org.example.Yes", "org.example.Active", "org.example.Ask"} {
		select {
		case <-children[app]:
			t.Errorf("%s was killed", app)
		default:
		}
	}
	if err := e.frontend.stop(); err != nil {
		t.Errorf("frontend exit on SIGHUP: %v\n%s", err, e.frontend.log)
	}
}
