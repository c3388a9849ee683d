package permissions

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/porthole-dev/porthole/internal/testenv"
)

func TestParseFilesystem(t *testing.T) {
	tests := []struct {
		in      string
		neg     bool
		fs      string
		mode    Mode
		wantErr error
	}{
		{"host", false, "host", ModeReadWrite, nil},
		{"host:ro", false, "host", ModeReadOnly, nil},
		{"home:create", false, "home", ModeCreate, nil},
		{"~", false, "home", ModeReadWrite, nil},
		{"~/foo:ro", false, "~/foo", ModeReadOnly, nil},
		{"home/foo", false, "~/foo", ModeReadWrite, nil},
		{"/opt//x/./y/", false, "/opt/x/y", ModeReadWrite, nil},
		{"/opt/x/.", false, "/opt/x", ModeReadWrite, nil},
		{"/a\\:b:ro", false, "/a:b", ModeReadOnly, nil},
		{"xdg-download", false, "xdg-download", ModeReadWrite, nil},
		{"xdg-config/gtk-3.0:ro", false, "xdg-config/gtk-3.0", ModeReadOnly, nil},
		{"xdg-run/pipewire-0", false, "xdg-run/pipewire-0", ModeReadWrite, nil},
		{"xdg-run", false, "", 0, ErrUnknown},
		{"host-os", true, "host-os", ModeNone, nil},
		{"host:reset", true, "host-reset", ModeNone, nil},
		{"host:reset", false, "", 0, ErrBadValue},
		{"home:reset", true, "", 0, ErrBadValue},
		{"host-reset", false, "", 0, ErrBadValue},
		{"/foo:ro", true, "/foo", ModeNone, nil},
		{"/foo:bogus", false, "/foo", ModeReadWrite, nil},
		{"/", false, "", 0, ErrBadValue},
		{"//", false, "", 0, ErrBadValue},
		{"/a/../b", false, "", 0, ErrBadValue},
		{"~/../b", false, "", 0, ErrBadValue},
		{"relative", false, "", 0, ErrUnknown},
		{"/a\tb", false, "", 0, ErrInvalid},
		{"/a\xffb", false, "", 0, ErrInvalid},
	}
	for _, tt := range tests {
		fs, mode, err := ParseFilesystem(tt.in, tt.neg)
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("ParseFilesystem(%q, %v) error = %v, want %v", tt.in, tt.neg, err, tt.wantErr)
			}
			continue
		}
		if err != nil || fs != tt.fs || mode != tt.mode {
			t.Errorf("ParseFilesystem(%q, %v) = %q, %v, %v; want %q, %v", tt.in, tt.neg, fs, mode, err, tt.fs, tt.mode)
		}
	}
}

func TestReserved(t *testing.T) {
	for p, want := range map[string]bool{
		"/usr": true, "/usr/share": true, "/run": true, "/run/flatpak/x": true, "/": true,
		"/opt": false, "/run/media": false, "/home/x": false, "/usrx": false, "/lib64": true,
	} {
		if got := CheckReserved(p) != nil; got != want {
			t.Errorf("CheckReserved(%q) reserved = %v, want %v", p, got, want)
		}
	}
}

func TestMetadataSkipsUnknownCLIRejects(t *testing.T) {
	c, err := ParseMetadata([]byte("[Context]\nshared=network;bogus;\nsockets=x11;!wayland;newsock;\nfilesystems=relative;~/ok;/a/../b;\n[Session Bus Policy]\norg.foo.Bar=talk\norg.x.Y=bogus\n"))
	if err != nil {
		t.Fatal(err)
	}
	got := string(c.Bytes(false))
	want := "[Context]\nshared=network;\nsockets=x11;!wayland;\nfilesystems=~/ok;\n\n[Session Bus Policy]\norg.foo.Bar=talk\n"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("metadata round trip (-want +got):\n%s", diff)
	}
	for _, o := range [][2]string{{"share", "bogus"}, {"socket", "newsock"}, {"filesystem", "relative"}, {"talk-name", ":1.2"}, {"env", "NOEQUALS"}, {"device", "input"}} {
		if err := New().ApplyOption(o[0], o[1]); err == nil {
			t.Errorf("ApplyOption(%q, %q) = nil, want error", o[0], o[1])
		}
	}
	if _, err := ParseMetadata([]byte("[Context]\nfilesystems=/a\x01;\n")); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad characters in metadata: err = %v, want ErrInvalid", err)
	}
}

func mustOpts(t *testing.T, opts ...string) *Context {
	t.Helper()
	c := New()
	for _, o := range opts {
		name, val, _ := strings.Cut(strings.TrimPrefix(o, "--"), "=")
		if err := c.ApplyOption(name, val); err != nil {
			t.Fatalf("ApplyOption(%s): %v", o, err)
		}
	}
	return c
}

func TestMerge(t *testing.T) {
	app, err := ParseMetadata([]byte("[Context]\nshared=network;ipc;\nsockets=x11;wayland;\nfilesystems=home;/opt:ro;xdg-download;\n[Environment]\nA=1\nB=2\n[Session Bus Policy]\norg.a.B=talk\n"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		layers Layers
		want   string // flattened
	}{
		{"app only", Layers{App: app},
			"[Context]\nshared=network;ipc;\nsockets=x11;wayland;\nfilesystems=home;xdg-download;/opt:ro;\n\n[Session Bus Policy]\norg.a.B=talk\n\n[Environment]\nB=2\nA=1\n"},
		{"negations and host reset", Layers{App: app,
			UserGlobal: mustOpts(t, "--unshare=network", "--nosocket=x11"),
			UserApp:    mustOpts(t, "--nofilesystem=host:reset", "--filesystem=/srv:create", "--unset-env=A", "--no-talk-name=org.a.B")},
			"[Context]\nshared=ipc;\nsockets=wayland;\nfilesystems=/srv:create;\nunset-environment=A;\n\n[Environment]\nB=2\nA=\n"},
		{"system then user then cli", Layers{App: app,
			SystemApp:   mustOpts(t, "--filesystem=/opt"),
			UserApp:     mustOpts(t, "--filesystem=/opt:ro", "--device=dri"),
			CommandLine: mustOpts(t, "--nodevice=dri", "--allow=devel", "--socket=fallback-x11")},
			"[Context]\nshared=network;ipc;\nsockets=x11;wayland;fallback-x11;\nfeatures=devel;\nfilesystems=home;xdg-download;/opt:ro;\n\n[Session Bus Policy]\norg.a.B=talk\n\n[Environment]\nB=2\nA=1\n"},
		{"sandbox", Layers{App: app, UserApp: mustOpts(t, "--allow=multiarch", "--allow=devel"), Sandbox: true},
			"[Context]\nfeatures=multiarch;\n\n[Environment]\nB=2\nA=1\n"},
		{"runtime keeps only env", Layers{Runtime: mustOpts(t, "--share=network", "--env=R=1"), App: mustOpts(t, "--socket=x11")},
			"[Context]\nsockets=x11;\n\n[Environment]\nR=1\n"},
	}
	for _, tt := range tests {
		got := string(Effective(tt.layers).Bytes(true))
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestGenericPolicy(t *testing.T) {
	c := mustOpts(t, "--add-policy=a.b=x", "--add-policy=a.b=y", "--remove-policy=a.b=x")
	if got := c.GenericPolicy("a.b"); !cmp.Equal(got, []string{"y"}) {
		t.Errorf("GenericPolicy = %v, want [y]", got)
	}
	if got, want := string(c.Bytes(false)), "[Policy a]\nb=y;!x;\n"; got != want {
		t.Errorf("Bytes = %q, want %q", got, want)
	}
}

func TestTableOrderMatchesGLib(t *testing.T) {
	// Expected order observed from GLib 2.74 (flatpak override writes
	// !host:reset first explicitly, then the table order).
	tb := newTable[Mode]()
	for _, k := range []string{"host-reset", "host", "xdg-download", "~/foo"} {
		tb.Set(k, 0)
	}
	if got, want := tb.Keys(), []string{"xdg-download", "host-reset", "~/foo", "host"}; !cmp.Equal(got, want) {
		t.Errorf("order = %v, want %v", got, want)
	}
}

// TestOverrideMatchesFlatpak runs sequences of `flatpak override` and our
// UpdateOverride and requires byte-identical files.
func TestOverrideMatchesFlatpak(t *testing.T) {
	testenv.RequireCommand(t, "flatpak")
	seqs := [][][]string{
		{{"--share=network", "--socket=wayland", "--nosocket=ssh-auth"}, {"--nosocket=wayland", "--filesystem=/opt"}},
		{{"--filesystem=~/foo:ro", "--filesystem=xdg-download", "--nofilesystem=host:reset", "--env=A=b", "--unset-env=C", "--talk-name=org.foo", "--system-own-name=org.bar", "--add-policy=a.b=c", "--persist=.x", "--persist=.y", "--allow=devel"}},
		{{"--env=X=1"}, {"--device=dri", "--filesystem=home"}, {"--own-name=org.x.Y.*", "--remove-policy=s.k=v", "--env=X= lead\\ing"}},
		{{"--filesystem=/a", "--filesystem=/b", "--filesystem=/c", "--filesystem=/d", "--filesystem=/e", "--filesystem=/f", "--filesystem=/g", "--filesystem=/h", "--filesystem=xdg-music", "--filesystem=~/x:create", "--filesystem=/i", "--filesystem=/j", "--filesystem=/k"}},
		{{"--env=A=1", "--env=B=2", "--env=C=3", "--env=D=4", "--env=E=5", "--env=F=6", "--env=G=7", "--env=H=8", "--env=I=9"}, {"--nofilesystem=host:reset"}},
	}
	for i, seq := range seqs {
		fpDir := t.TempDir()
		ourPath := filepath.Join(t.TempDir(), "overrides", "org.test.App")
		for _, args := range seq {
			cmd := exec.Command("flatpak", append(append([]string{"override", "--user"}, args...), "org.test.App")...)
			cmd.Env = append(os.Environ(), "FLATPAK_USER_DIR="+fpDir)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("flatpak override %v: %v\n%s", args, err, out)
			}
			if err := UpdateOverride(context.Background(), ourPath, mustOpts(t, args...)); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(filepath.Join(fpDir, "overrides", "org.test.App"))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(ourPath)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(string(want), string(got)); diff != "" {
			t.Errorf("sequence %d: override file differs from flatpak's (-flatpak +ours):\n%s", i, diff)
		}
		// And flatpak's file reads back to the same context.
		c, err := LoadOverride(context.Background(), ourPath)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(c.Bytes(false)); got != string(want) {
			t.Errorf("sequence %d: reload = %q, want %q", i, got, want)
		}
	}
}

func FuzzParseMetadata(f *testing.F) {
	f.Add([]byte("[Context]\nshared=network;ipc;\nsockets=x11;!wayland;\nfilesystems=!host:reset;xdg-download;~/foo:ro;/a\\:b;\npersistent=.x;\n[Session Bus Policy]\norg.foo=talk\n[Environment]\nA=b\\sc\n[Policy a]\nb=c;!d;\n"))
	f.Add([]byte("[Application]\nname=org.test.Hello\n\n[Context]\nfilesystems=xdg-download;~/testdir:create;/home/user/bench;\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseMetadata(data)
		if err != nil {
			return
		}
		out := c.Bytes(false)
		c2, err := ParseMetadata(out)
		if err != nil {
			t.Fatalf("re-parse of %q: %v", out, err)
		}
		if out2 := c2.Bytes(false); string(out2) != string(out) {
			t.Fatalf("not stable:\n%q\n%q", out, out2)
		}
		_ = c.Args()
	})
}
