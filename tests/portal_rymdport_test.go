package tests

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/google/go-cmp/cmp"
	"github.com/rymdport/portal/account"
	"github.com/rymdport/portal/background"
	"github.com/rymdport/portal/filechooser"
	"github.com/rymdport/portal/networkmonitor"
	"github.com/rymdport/portal/notification"
	"github.com/rymdport/portal/openuri"
	"github.com/rymdport/portal/proxyresolver"
	"github.com/rymdport/portal/screenshot"
	"github.com/rymdport/portal/settings"
	"github.com/rymdport/portal/settings/appearance"
	"github.com/rymdport/portal/trash"
	"github.com/rymdport/portal/wallpaper"
)

// ptMatchRules is the number of match rules name holds on bus conn
// (dbus-daemon's statistics interface).
func ptMatchRules(t testing.TB, conn *dbus.Conn, name string) uint32 {
	t.Helper()
	var stats map[string]dbus.Variant
	if err := conn.BusObject().Call("org.freedesktop.DBus.Debug.Stats.GetConnectionStats", 0, name).Store(&stats); err != nil {
		t.Fatalf("GetConnectionStats: %v", err)
	}
	n, _ := stats["MatchRules"].Value().(uint32)
	return n
}

// TestPortalRymdport drives our frontend with the Go client library
// github.com/rymdport/portal: every portal it covers, checking results.
// The library uses the process's shared session bus connection, so all
// of it runs in this one test.
func TestPortalRymdport(t *testing.T) {
	e := ptSetup(t)
	e.startFrontend(t, true)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", e.bus.Address())
	shared, err := dbus.SessionBus()
	if err != nil {
		t.Fatal(err)
	}
	defer shared.Close()
	client := shared.Names()[0]
	// The library subscribes to Response only after the method returned;
	// the backend answers once that subscription (a new match rule) is in.
	watcher := e.bus.Conn(t)
	e.backend.setGate(func(old uint32) {
		for ptMatchRules(t, watcher, client) <= old {
		}
	})
	// Every Response (also those of requests the library does not wait
	// for, as OpenURI) must be consumed before the next subtest, whose
	// listener would take it for its own: wait for them.
	responses := func(n int, calls func()) {
		ch := make(chan *dbus.Signal, 16)
		shared.Signal(ch)
		defer shared.RemoveSignal(ch)
		calls()
		for n > 0 {
			if sig := <-ch; sig.Name == "org.freedesktop.portal.Request.Response" {
				n--
			}
		}
	}
	arm := func() { e.backend.gateArg.Store(ptMatchRules(t, watcher, client)) }

	t.Run("Account", func(t *testing.T) {
		arm()
		info, err := account.GetUserInformation("", &account.UserInfoOptions{HandleToken: "acct", Reason: "testing"})
		if err != nil {
			t.Fatal(err)
		}
		want := &account.UserInfoResult{Id: "alice", Name: "Alice Liddell", Image: "file://" + filepath.Join(e.files, "face.png")}
		if diff := cmp.Diff(want, info); diff != "" {
			t.Errorf("GetUserInformation (-want +got):\n%s", diff)
		}
		c := e.backend.last(t, "Account.GetUserInformation")
		if c.Args[1] != ptAppID || c.Args[3].(ptResults)["reason"].Value() != "testing" {
			t.Errorf("backend call = %v", c.Args)
		}
	})
	t.Run("FileChooser", func(t *testing.T) {
		arm()
		uris, err := filechooser.OpenFile("", "Open", &filechooser.OpenFileOptions{Multiple: true, AcceptLabel: "_Open",
			Filters: []*filechooser.Filter{{Name: "Text", Rules: []filechooser.Rule{{Type: filechooser.MIMEType, Pattern: "text/plain"}}}}})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"file://" + filepath.Join(e.files, "open.txt")}, uris); diff != "" {
			t.Errorf("OpenFile (-want +got):\n%s", diff)
		}
		c := e.backend.last(t, "FileChooser.OpenFile")
		o := c.Args[4].(ptResults)
		if c.Args[3] != "Open" || o["multiple"].Value() != true || o["accept_label"].Value() != "_Open" || fmt.Sprint(o["filters"].Value()) != "[[Text [[1 text/plain]]]]" {
			t.Errorf("backend OpenFile args = %v", c.Args)
		}
		arm()
		uris, err = filechooser.SaveFile("", "Save", &filechooser.SaveFileOptions{CurrentName: "save.txt"})
		if err != nil || len(uris) != 1 || uris[0] != "file://"+filepath.Join(e.files, "save.txt") {
			t.Errorf("SaveFile = %v, %v", uris, err)
		}
		if o := e.backend.last(t, "FileChooser.SaveFile").Args[4].(ptResults); o["current_name"].Value() != "save.txt" {
			t.Errorf("backend SaveFile options = %v", o)
		}
		arm()
		uris, err = filechooser.SaveFiles("", "Save all", &filechooser.SaveFilesOptions{Files: []string{"a.txt", "b.txt"}})
		if diff := cmp.Diff([]string{"file://" + filepath.Join(e.files, "a.txt"), "file://" + filepath.Join(e.files, "b.txt")}, uris); err != nil || diff != "" {
			t.Errorf("SaveFiles = %v (-want +got):\n%s", err, diff)
		}
	})
	t.Run("NetworkMonitor", func(t *testing.T) {
		st, err := networkmonitor.GetStatus()
		if err != nil {
			t.Fatal(err)
		}
		// Connectivity and metered come from the fake NetworkManager.
		if !st.Metered || st.Connection != networkmonitor.FullNetwork {
			t.Errorf("GetStatus = %+v, want metered, full connectivity", st)
		}
		if m, err := networkmonitor.GetMetered(); err != nil || !m {
			t.Errorf("GetMetered = %v, %v", m, err)
		}
		if c, err := networkmonitor.GetConnectivity(); err != nil || c != networkmonitor.FullNetwork {
			t.Errorf("GetConnectivity = %v, %v", c, err)
		}
		if _, err := networkmonitor.GetAvailable(); err != nil {
			t.Errorf("GetAvailable: %v", err)
		}
		if ok, err := networkmonitor.CanReach("localhost", 1); err != nil || !ok {
			t.Errorf("CanReach(localhost) = %v, %v", ok, err)
		}
	})
	t.Run("Notification", func(t *testing.T) {
		if err := notification.Add(7, notification.Content{Title: "Hi", Body: "there", Priority: notification.High}); err != nil {
			t.Fatal(err)
		}
		c := e.backend.last(t, "Notification.AddNotification")
		o := c.Args[2].(ptResults)
		if c.Args[0] != ptAppID || c.Args[1] != "7" || o["title"].Value() != "Hi" || o["body"].Value() != "there" || o["priority"].Value() != "high" {
			t.Errorf("backend AddNotification = %v", c.Args)
		}
		if err := notification.Remove(7); err != nil {
			t.Fatal(err)
		}
		if c := e.backend.last(t, "Notification.RemoveNotification"); c.Args[1] != "7" {
			t.Errorf("backend RemoveNotification = %v", c.Args)
		}
	})
	t.Run("OpenURI", func(t *testing.T) {
		responses(3, func() {
			n := e.backend.count("AppChooser.ChooseApplication")
			if err := openuri.OpenURI("", "porthole-test://hello", &openuri.Options{Ask: true}); err != nil {
				t.Fatal(err)
			}
			c := e.backend.waitCall(t, "AppChooser.ChooseApplication", n+1)
			if c.Args[1] != ptAppID || !strings.Contains(ptString(c.Args[3]), ptHandlerID) || c.Args[4].(ptResults)["content_type"].Value() != "x-scheme-handler/porthole-test" {
				t.Errorf("ChooseApplication = %v", c.Args)
			}
			f, err := os.Open(e.file(t, "doc.txt", "text"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := openuri.OpenFile("", f.Fd(), &openuri.Options{Ask: true}); err != nil {
				t.Fatal(err)
			}
			c = e.backend.waitCall(t, "AppChooser.ChooseApplication", n+2)
			if c.Args[4].(ptResults)["content_type"].Value() != "text/plain" {
				t.Errorf("ChooseApplication for a file = %v", c.Args)
			}
			d, err := os.Open(e.files)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if err := openuri.OpenDirectory("", d.Fd(), nil); err != nil {
				t.Errorf("OpenDirectory: %v", err)
			}
		})
	})
	t.Run("ProxyResolver", func(t *testing.T) {
		proxies, err := proxyresolver.Lookup("http://example.com/")
		if err != nil || len(proxies) != 1 || proxies[0] != "direct://" {
			t.Errorf("Lookup = %v, %v; want [direct://]", proxies, err)
		}
	})
	t.Run("Screenshot", func(t *testing.T) {
		arm()
		uri, err := screenshot.Screenshot("", &screenshot.ScreenshotOptions{Interactive: true})
		if err != nil || uri != "file://"+filepath.Join(e.files, "shot.png") {
			t.Errorf("Screenshot = %q, %v", uri, err)
		}
		arm()
		c, err := screenshot.PickColor("", nil)
		if want := (&color.RGBA{R: 63, G: 127, B: 191, A: 255}); err != nil || c == nil || ptAbsDiff(c.R, want.R) > 1 || ptAbsDiff(c.G, want.G) > 1 || ptAbsDiff(c.B, want.B) > 1 {
			t.Errorf("PickColor = %v, %v; want about %v", c, err, want)
		}
	})
	t.Run("Settings", func(t *testing.T) {
		all, err := settings.ReadAll([]string{"org.freedesktop.appearance"})
		if err != nil || len(all) != 1 || len(all["org.freedesktop.appearance"]) != 3 {
			t.Errorf("ReadAll = %v, %v", all, err)
		}
		if v, err := settings.ReadOne("org.example.test", "greeting"); err != nil || v != "hello" {
			t.Errorf("ReadOne = %v, %v", v, err)
		}
		if s, err := appearance.GetColorScheme(); err != nil || s != appearance.Dark {
			t.Errorf("GetColorScheme = %v, %v", s, err)
		}
		if c, err := appearance.GetContrast(); err != nil || c != appearance.HigherContrast {
			t.Errorf("GetContrast = %v, %v", c, err)
		}
		// The library's GetAccentColor wants four doubles (the spec says
		// (ddd)); read the value itself.
		if v, err := settings.ReadOne("org.freedesktop.appearance", "accent-color"); err != nil || fmt.Sprint(v) != "[0.5 0.25 1]" {
			t.Errorf("ReadOne(accent-color) = %v, %v", v, err)
		}
		if _, err := settings.ReadOne("org.example.test", "missing"); ptErrName(err) != "org.freedesktop.portal.Error.NotFound" {
			t.Errorf("ReadOne(missing) = %v, want NotFound", err)
		}
	})
	t.Run("Trash", func(t *testing.T) {
		p := e.file(t, "junk.txt", "junk")
		f, err := os.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		res, err := trash.TrashFile(f.Fd())
		if err != nil || res != trash.TrashingSucceeded {
			t.Fatalf("TrashFile = %v, %v", res, err)
		}
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("trashed file still there: %v", err)
		}
		if _, err := os.Stat(filepath.Join(e.root, "data/Trash/files/junk.txt")); err != nil {
			t.Errorf("not in the trash: %v", err)
		}
	})
	t.Run("Wallpaper", func(t *testing.T) {
		responses(2, func() {
			n := e.backend.count("Wallpaper.SetWallpaperURI")
			arm() // the library waits for this Response: answer once it listens
			if err := wallpaper.SetWallpaperURI("", "file://"+e.file(t, "bg.png", "png"), &wallpaper.SetWallpaperOptions{ShowPreview: true, SetOn: wallpaper.Both}); err != nil {
				t.Fatal(err)
			}
			c := e.backend.waitCall(t, "Wallpaper.SetWallpaperURI", n+1)
			if c.Args[1] != ptAppID || c.Args[3] != "file://"+filepath.Join(e.files, "bg.png") || c.Args[4].(ptResults)["set-on"].Value() != "both" {
				t.Errorf("backend SetWallpaperURI = %v", c.Args)
			}
			f, err := os.Open(filepath.Join(e.files, "bg.png"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			arm()
			if err := wallpaper.SetWallpaperFile("", f.Fd(), &wallpaper.SetWallpaperOptions{SetOn: wallpaper.Background}); err != nil {
				t.Fatal(err)
			}
			c = e.backend.waitCall(t, "Wallpaper.SetWallpaperURI", n+2)
			if c.Args[3] != "file://"+filepath.Join(e.files, "bg.png") || c.Args[4].(ptResults)["set-on"].Value() != "background" {
				t.Errorf("backend SetWallpaperURI for a file = %v", c.Args)
			}
		})
	})
	if !e.frontend.alive() {
		t.Fatalf("frontend died:\n%s", e.frontend.log)
	}
	if err := e.frontend.stop(); err != nil {
		t.Errorf("frontend exit on SIGHUP: %v\n%s", err, e.frontend.log)
	}

	// Background decides without a backend for host apps and answers at
	// once, before the library subscribed; as a sandboxed app with the
	// "ask" permission the answer waits for the (gated) Access dialog.
	t.Run("Background", func(t *testing.T) {
		meta := e.file(t, "flatpak-info", "[Application]\nname="+ptAppID+"\n\n[Instance]\ninstance-id=42\n\n[Context]\nshared=network;ipc;\n")
		e.extraEnv = []string{"XDG_DESKTOP_PORTAL_TEST_APP_INFO_KIND=flatpak", "XDG_DESKTOP_PORTAL_TEST_FLATPAK_METADATA=" + meta}
		e.startFrontend(t, false)
		store := e.conn.Object(psName, psPath)
		if err := store.Call(psIface+".SetPermission", 0, "background", true, "background", ptAppID, []string{"ask"}).Err; err != nil {
			t.Fatal(err)
		}
		arm()
		res, err := background.RequestBackground("", &background.RequestOptions{Reason: "sync", Autostart: true, Commandline: []string{"sync-tool", "--daemon"}})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Background || !res.Autostart {
			t.Errorf("RequestBackground = %+v, want background and autostart", res)
		}
		if c := e.backend.last(t, "Access.AccessDialog"); c.Args[1] != ptAppID || c.Args[4] != "sync" {
			t.Errorf("AccessDialog = %v", c.Args)
		}
		data, err := os.ReadFile(filepath.Join(e.root, "config/autostart", ptAppID+".desktop"))
		if err != nil || !strings.Contains(string(data), "Exec=flatpak run --command=sync-tool "+ptAppID+" --daemon") || !strings.Contains(string(data), "X-Flatpak="+ptAppID) {
			t.Errorf("autostart file = %q, %v", data, err)
		}
		// The library's SetStatus calls RequestBackground instead; SetStatus
		// is covered by the gdbus test.
		if err := e.frontend.stop(); err != nil {
			t.Errorf("frontend exit on SIGHUP: %v\n%s", err, e.frontend.log)
		}
	})
}

func ptString(v any) string {
	if s, ok := v.([]string); ok {
		out := ""
		for _, x := range s {
			out += x + ";"
		}
		return out
	}
	s, _ := v.(string)
	return s
}

func ptAbsDiff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}
