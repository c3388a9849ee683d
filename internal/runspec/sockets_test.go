package runspec

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/porthole-dev/porthole/launcher"
)

func listen(t *testing.T, path string) {
	t.Helper()
	os.MkdirAll(filepath.Dir(path), 0o700)
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
}

func TestSockets(t *testing.T) {
	home, run := t.TempDir(), t.TempDir()
	listen(t, filepath.Join(run, "wayland-1"))
	listen(t, filepath.Join(run, "pulse", "native"))
	listen(t, filepath.Join(run, "bus"))
	listen(t, filepath.Join(run, "ssh.sock"))
	env := []string{"HOME=" + home, "WAYLAND_DISPLAY=wayland-1", "SSH_AUTH_SOCK=" + filepath.Join(run, "ssh.sock"),
		"DBUS_SESSION_BUS_ADDRESS=unix:path=" + filepath.Join(run, "bus") + ",guid=x", "DISPLAY=:77", "PULSE_SERVER=bogus:x"}
	build := func(opts ...string) *Result {
		r, err := Build(context.Background(), Input{AppID: "org.test.App", Arch: "x86_64", Branch: "master", AppFiles: t.TempDir(),
			RuntimeRef: "runtime/r/x86_64/1", RuntimeFiles: t.TempDir(), Context: ctxOf(t, opts...)},
			Host{UID: 1000, GID: 1000, User: "u", Group: "g", Home: home, RuntimeDir: run, Env: env})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r := build("--socket=wayland", "--socket=pulseaudio", "--socket=session-bus", "--socket=ssh-auth", "--socket=fallback-x11")
	e := envOf(r.Spec)
	for k, want := range map[string]string{
		"WAYLAND_DISPLAY":          "wayland-1",
		"DBUS_SESSION_BUS_ADDRESS": "unix:path=/run/flatpak/bus",
		"SSH_AUTH_SOCK":            "/run/flatpak/ssh-auth",
	} {
		if e[k] != want {
			t.Errorf("%s = %q, want %q", k, e[k], want)
		}
	}
	if _, ok := e["DISPLAY"]; ok {
		t.Error("fallback-x11 exposed X11 although Wayland is available")
	}
	if _, ok := e["PULSE_SERVER"]; !ok {
		t.Error("PULSE_SERVER unset")
	}
	for _, m := range [][2]string{
		{filepath.Join(run, "wayland-1"), "/run/flatpak/wayland-1"},
		{filepath.Join(run, "bus"), "/run/flatpak/bus"},
		{filepath.Join(run, "ssh.sock"), "/run/flatpak/ssh-auth"},
	} {
		found := false
		for _, x := range r.Spec.Mounts {
			if x.Source == m[0] && x.Dest == m[1] && (x.Type == launcher.Bind || x.Type == launcher.ROBind) {
				found = true
			}
		}
		if !found {
			t.Errorf("no bind %s → %s", m[0], m[1])
		}
	}
	if len(r.Spec.BusProxies) != 0 {
		t.Errorf("granted session bus also proxied: %+v", r.Spec.BusProxies)
	}
	// Without grants, nothing is exposed and the variables are unset, but
	// the session bus goes through the filtering proxy.
	r = build("--talk-name=org.x.Y")
	e = envOf(r.Spec)
	if e["DBUS_SESSION_BUS_ADDRESS"] != "unix:path=/run/flatpak/bus" || len(r.Spec.BusProxies) != 1 ||
		!r.Spec.BusProxies[0].Policy.Filter || r.Spec.BusProxies[0].Socket != filepath.Join(run, "bus") ||
		r.Spec.BusProxies[0].Policy.Names["org.x.Y"] == 0 || r.Spec.BusProxies[0].Policy.Names["org.test.App.*"] == 0 {
		t.Errorf("session bus proxy: env %q, proxies %+v", e["DBUS_SESSION_BUS_ADDRESS"], r.Spec.BusProxies)
	}
	for _, k := range []string{"WAYLAND_DISPLAY", "SSH_AUTH_SOCK", "DISPLAY", "PULSE_SERVER"} {
		if v, ok := e[k]; ok {
			t.Errorf("%s = %q without the grant", k, v)
		}
	}
}

func FuzzFilterXauth(f *testing.F) {
	f.Add([]byte("\x01\x00\x00\x06myhost\x00\x010\x00\x12MIT-MAGIC-COOKIE-1\x00\x02k0"), "0", "myhost")
	f.Add([]byte{0xff, 0xff, 0, 0, 0, 1, '1', 0, 0, 0, 0}, "1", "h")
	f.Fuzz(func(t *testing.T, data []byte, num, host string) {
		out := filterXauth(data, num, host)
		if len(out) > len(data)+len(host)*8+64 {
			t.Fatalf("output grew: %d from %d", len(out), len(data))
		}
		if again := filterXauth(out, num, host); string(again) != string(out) {
			t.Fatalf("not idempotent")
		}
	})
}
