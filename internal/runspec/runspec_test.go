package runspec

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/porthole-dev/porthole/internal/appinfo"
	"github.com/porthole-dev/porthole/launcher"
	"github.com/porthole-dev/porthole/runtime/permissions"
)

func ctxOf(t *testing.T, opts ...string) *permissions.Context {
	t.Helper()
	c := permissions.New()
	for _, o := range opts {
		k, v, _ := strings.Cut(strings.TrimPrefix(o, "--"), "=")
		if err := c.ApplyOption(k, v); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func build(t *testing.T, opts ...string) (*Result, string) {
	t.Helper()
	home := t.TempDir()
	rt := t.TempDir()
	os.MkdirAll(filepath.Join(rt, "bin"), 0o755)
	os.MkdirAll(filepath.Join(rt, "etc", "fonts"), 0o755)
	res, err := Build(context.Background(), Input{
		AppID: "org.test.App", Arch: "x86_64", Branch: "stable", AppFiles: t.TempDir(), AppCommit: "c1",
		RuntimeRef: "runtime/org.test.Platform/x86_64/1", RuntimeFiles: rt, RuntimeCommit: "c2",
		MetadataCommand: "app-cmd", Context: ctxOf(t, opts...), CommandLine: ctxOf(t, opts...),
	}, Host{UID: 1000, GID: 1000, User: "u", Group: "g", Home: home, RuntimeDir: t.TempDir(),
		Env: []string{"HOME=" + home, "LD_PRELOAD=/evil.so", "TMPDIR=/x", "LANG=C", "DISPLAY=:99", "DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent"}})
	if err != nil {
		t.Fatal(err)
	}
	return res, home
}

func hasMount(s *launcher.Spec, typ launcher.MountType, src, dest string) bool {
	for _, m := range s.Mounts {
		if m.Type == typ && m.Dest == dest && (src == "" || m.Source == src) {
			return true
		}
	}
	return false
}

func envOf(s *launcher.Spec) map[string]string {
	m := map[string]string{}
	for _, e := range s.Env {
		k, v, _ := strings.Cut(e, "=")
		m[k] = v
	}
	return m
}

func TestBuildPermissions(t *testing.T) {
	tests := []struct {
		name  string
		opts  []string
		check func(t *testing.T, r *Result, home string)
	}{
		{"defaults", nil, func(t *testing.T, r *Result, home string) {
			s := r.Spec
			if s.ShareNet || s.ShareIPC || s.Seccomp.Devel {
				t.Errorf("shares/devel on by default: %+v", s)
			}
			if s.Args[0] != "app-cmd" {
				t.Errorf("command = %q", s.Args[0])
			}
			for _, d := range []string{"/usr", "/app"} {
				if !hasMount(s, launcher.ROBind, "", d) {
					t.Errorf("no ro-bind on %s", d)
				}
			}
			if !hasMount(s, launcher.Dev, "", "/dev") || !hasMount(s, launcher.Proc, "", "/proc") || !hasMount(s, launcher.Symlink, "usr/bin", "/bin") {
				t.Error("missing /dev, /proc or /bin link")
			}
			if hasMount(s, launcher.Bind, home, home) {
				t.Error("home exported without a grant")
			}
			if !hasMount(s, launcher.Bind, filepath.Join(home, ".var/app/org.test.App"), filepath.Join(home, ".var/app/org.test.App")) {
				t.Error("~/.var/app/ID not bound")
			}
			e := envOf(s)
			for k, want := range map[string]string{"PATH": "/app/bin:/usr/bin", "FLATPAK_ID": "org.test.App", "container": "flatpak",
				"XDG_RUNTIME_DIR": "/run/user/1000", "XDG_DATA_HOME": filepath.Join(home, ".var/app/org.test.App/data"),
				"LD_LIBRARY_PATH": "/app/lib", "LANG": "C"} {
				if e[k] != want {
					t.Errorf("env %s = %q, want %q", k, e[k], want)
				}
			}
			for _, k := range []string{"LD_PRELOAD", "TMPDIR", "DISPLAY", "DBUS_SESSION_BUS_ADDRESS"} {
				if _, ok := e[k]; ok {
					t.Errorf("env %s not cleared", k)
				}
			}
			info, _, err := appinfo.Parse(specFile(s, "/.flatpak-info"))
			if err != nil || info.Name != "org.test.App" || !info.SessionBusProxy || info.AppCommit != "c1" {
				t.Errorf("/.flatpak-info = %+v, %v", info, err)
			}
		}},
		{"shares and features", []string{"--share=network", "--share=ipc", "--allow=devel", "--allow=bluetooth", "--allow=canbus", "--allow=multiarch"}, func(t *testing.T, r *Result, _ string) {
			s := r.Spec
			if !s.ShareNet || !s.ShareIPC || !s.Seccomp.Devel || !s.Seccomp.Bluetooth || !s.Seccomp.Canbus || !s.Seccomp.Multiarch {
				t.Errorf("spec = %+v", s.Seccomp)
			}
		}},
		{"home and negation", []string{"--filesystem=home", "--nofilesystem=~/.ssh", "--filesystem=/nonexistent-x"}, func(t *testing.T, r *Result, home string) {
			if !hasMount(r.Spec, launcher.Bind, home, home) {
				t.Error("home not bound")
			}
			if hasMount(r.Spec, launcher.Bind, "/nonexistent-x", "/nonexistent-x") {
				t.Error("missing path bound")
			}
		}},
		{"reserved paths refused", []string{"--filesystem=/usr/share", "--filesystem=/run", "--filesystem=/etc:ro"}, func(t *testing.T, r *Result, _ string) {
			for _, p := range []string{"/usr/share", "/run", "/etc"} {
				for _, m := range r.Spec.Mounts {
					if m.Source == p && (m.Type == launcher.Bind || m.Type == launcher.ROBind) {
						t.Errorf("reserved %s exported", p)
					}
				}
			}
			if len(r.Warnings) < 3 {
				t.Errorf("warnings = %q", r.Warnings)
			}
		}},
		{"devices", []string{"--device=all"}, func(t *testing.T, r *Result, _ string) {
			if !hasMount(r.Spec, launcher.DevBind, "/dev", "/dev") || hasMount(r.Spec, launcher.Dev, "", "/dev") {
				t.Error("device=all not a dev-bind of /dev")
			}
		}},
		{"env", []string{"--env=FOO=bar", "--unset-env=LANG"}, func(t *testing.T, r *Result, _ string) {
			e := envOf(r.Spec)
			if e["FOO"] != "bar" {
				t.Errorf("FOO = %q", e["FOO"])
			}
			if _, ok := e["LANG"]; ok {
				t.Error("LANG not unset")
			}
			info, _, _ := appinfo.Parse(specFile(r.Spec, "/.flatpak-info"))
			if strings.Join(info.ExtraArgs, " ") != "--env=FOO=bar --unset-env=LANG" && strings.Join(info.ExtraArgs, " ") != "--unset-env=LANG --env=FOO=bar" {
				t.Errorf("extra-args = %q", info.ExtraArgs)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, home := build(t, tt.opts...)
			tt.check(t, r, home)
		})
	}
}

func specFile(s *launcher.Spec, dest string) []byte {
	for _, m := range s.Mounts {
		if m.Type == launcher.File && m.Dest == dest {
			return m.Data
		}
	}
	return nil
}

func TestFilterXauth(t *testing.T) {
	rec := func(fam uint16, addr, num, name, data string) []byte {
		var b []byte
		b = append(b, byte(fam>>8), byte(fam))
		for _, s := range []string{addr, num, name, data} {
			b = append(b, byte(len(s)>>8), byte(len(s)))
			b = append(b, s...)
		}
		return b
	}
	in := append(append(append(rec(familyLocal, "myhost", "0", "MIT-MAGIC-COOKIE-1", "k0"), rec(familyLocal, "myhost", "1", "MIT-MAGIC-COOKIE-1", "k1")...),
		rec(familyLocal, "other", "0", "MIT-MAGIC-COOKIE-1", "kx")...), rec(0, "\x7f\x00\x00\x01", "0", "MIT-MAGIC-COOKIE-1", "ktcp")...)
	got := filterXauth(in, "0", "myhost")
	if want := rec(familyLocal, "myhost", "0", "MIT-MAGIC-COOKIE-1", "k0"); string(got) != string(want) {
		t.Errorf("filterXauth = %q, want %q", got, want)
	}
}
