package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/porthole-dev/porthole/internal/testenv"
)

// ptHaveLibportal reports whether /usr/bin/python3 can load libportal's
// introspection data.
func ptHaveLibportal() bool {
	return exec.Command("/usr/bin/python3", "-c", "import gi; gi.require_version('Xdp', '1.0'); from gi.repository import Xdp").Run() == nil
}

// TestPortalLibportal runs testdata/portal_libportal.py: libportal (the C
// client library, through python3-gi) calls every portal it covers on our
// frontend; the answers it reports and the backend's calls are checked.
func TestPortalLibportal(t *testing.T) {
	testenv.Require(t, ptHaveLibportal(), "needs /usr/bin/python3 with gi and Xdp 1.0 (Debian packages python3-gi gir1.2-xdp-1.0)")
	e := ptSetup(t)
	e.startFrontend(t, true)
	e.file(t, "doc.txt", "text")
	e.file(t, "junk.txt", "junk")
	e.file(t, "print.ps", "%!PS-Adobe-3.0\n")
	e.file(t, "bg.png", "png")
	script, err := filepath.Abs("testdata/portal_libportal.py")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/usr/bin/python3", script, e.files)
	cmd.Env = e.env()
	outb, err := cmd.CombinedOutput()
	out := string(outb)
	if err != nil {
		t.Fatalf("libportal script: %v\n%s\nfrontend:\n%s", err, out, e.frontend.log)
	}
	got := map[string]string{}
	for _, l := range ptLines(out) {
		if k, v, ok := strings.Cut(l, ": "); ok {
			got[k] = v
		}
	}
	file := func(n string) string { return "file://" + filepath.Join(e.files, n) }
	want := map[string]string{
		"get_user_information": fmt.Sprintf("{'id': <'alice'>, 'name': <'Alice Liddell'>, 'image': <'%s'>}", file("face.png")),
		"open_file":            fmt.Sprintf("{'uris': <['%s']>, 'choices': <[('encoding', 'utf8')]>}", file("open.txt")),
		"save_file":            fmt.Sprintf("{'uris': <['%s']>}", file("save.txt")),
		"open_uri":             "True",
		"open_uri_file":        "True",
		// libportal 0.6 opens the file O_RDONLY; upstream's frontend (and
		// ours) trash only files the caller could write.
		"trash_file":             "error Failed to trash",
		"add_notification":       "True",
		"remove_notification":    "sent",
		"session_inhibit":        "ok",
		"session_monitor_start":  "True",
		"compose_email":          "True",
		"take_screenshot":        file("shot.png"),
		"pick_color":             "(0.25, 0.5, 0.75)",
		"prepare_print":          "{'settings': <{'n-copies': <'2'>}>, 'page-setup': <{'PPDName': <'iso_a4'>}>, 'token': <uint32 7>}",
		"print_file":             "True",
		"request_background":     "True",
		"set_wallpaper":          "True",
		"location_monitor_start": "True",
		"location_updated":       "59.3293 18.0686 25.0 1700000000",
		"done":                   "yes",
	}
	// GVariant dictionaries print in hash order: compare them as sets of
	// entries.
	norm := func(m map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range m {
			if strings.HasPrefix(v, "{") {
				parts := strings.Split(strings.Trim(v, "{}"), ">, '")
				for i := range parts {
					parts[i] = strings.Trim(parts[i], "'<> ")
				}
				sort.Strings(parts)
				v = strings.Join(parts, " | ")
			}
			out[k] = v
		}
		return out
	}
	if diff := cmp.Diff(norm(want), norm(got)); diff != "" {
		t.Errorf("libportal results (-want +got):\n%s\noutput:\n%s", diff, out)
	}

	// What the backend was asked.
	if c := e.backend.last(t, "Account.GetUserInformation"); c.Args[1] != ptAppID || fmt.Sprint(c.Args[3]) != `map[reason:"to greet you"]` {
		t.Errorf("GetUserInformation backend call %v", c.Args)
	}
	if c := e.backend.last(t, "FileChooser.OpenFile"); c.Args[3] != "Pick" || fmt.Sprint(c.Args[4].(ptResults)["multiple"]) != "true" {
		t.Errorf("OpenFile backend call %v", c.Args)
	}
	if n := e.backend.count("AppChooser.ChooseApplication"); n != 2 {
		t.Errorf("ChooseApplication called %d times, want 2", n)
	}
	if c := e.backend.last(t, "AppChooser.ChooseApplication"); c.Args[4].(ptResults)["content_type"].Value() != "text/plain" {
		t.Errorf("ChooseApplication for a file: %v", c.Args)
	}
	if c := e.backend.last(t, "Notification.AddNotification"); c.Args[1] != "lp1" || fmt.Sprint(c.Args[2]) != `map[body:"hello" title:"From libportal"]` {
		t.Errorf("AddNotification backend call %v", c.Args)
	}
	if c := e.backend.last(t, "Inhibit.Inhibit"); c.Args[3] != uint32(12) || fmt.Sprint(c.Args[4]) != `map[reason:"playing"]` {
		t.Errorf("Inhibit backend call %v", c.Args)
	}
	if c := e.backend.last(t, "Email.ComposeEmail"); fmt.Sprint(c.Args[3].(ptResults)["addresses"].Value()) != "[ann@example.com]" || c.Args[3].(ptResults)["subject"].Value() != "Hello" {
		t.Errorf("ComposeEmail backend call %v", c.Args)
	}
	if c := e.backend.last(t, "Print.Print"); c.Args[4] != "%!PS-Adobe-3.0\n" || c.Args[5].(ptResults)["token"].Value() != uint32(7) {
		t.Errorf("Print backend call %v", c.Args)
	}
	if c := e.backend.last(t, "Wallpaper.SetWallpaperURI"); c.Args[4].(ptResults)["set-on"].Value() != "lockscreen" {
		t.Errorf("SetWallpaperURI backend call %v", c.Args)
	}
	// The chosen handler was started with each URI (it runs on its own:
	// wait for its output).
	for {
		data, _ := os.ReadFile(filepath.Join(e.files, "launched"))
		if strings.Contains(string(data), "porthole-test://libportal\n") && strings.Contains(string(data), file("doc.txt")+"\n") {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := os.Stat(filepath.Join(e.files, "junk.txt")); err != nil {
		t.Errorf("file refused for the trash is gone: %v", err)
	}
	if data, err := os.ReadFile(filepath.Join(e.root, "config/autostart", ptAppID+".desktop")); err != nil || !strings.Contains(string(data), "Exec=sync-tool --bg\n") {
		t.Errorf("autostart file = %q, %v", data, err)
	}
	if got := e.geoclue.prop("RequestedAccuracyLevel"); got != uint32(8) {
		t.Errorf("GeoClue RequestedAccuracyLevel = %v, want 8 (exact)", got)
	}
	if got := e.geoclue.prop("DesktopId"); got != ptAppID {
		t.Errorf("GeoClue DesktopId = %v, want %s", got, ptAppID)
	}
	if !e.frontend.alive() {
		t.Fatalf("frontend died:\n%s", e.frontend.log)
	}
	if err := e.frontend.stop(); err != nil {
		t.Errorf("frontend exit on SIGHUP: %v\n%s", err, e.frontend.log)
	}
}
