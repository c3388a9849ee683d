package metadata

import (
	"os"
	"testing"

	"github.com/porthole-dev/porthole/runtime/permissions"
	"github.com/porthole-dev/porthole/runtime/ref"
)

// TestBuildFinishVector rebuilds the metadata flatpak build-init +
// build-finish wrote for the vectors, byte for byte.
func TestBuildFinishVector(t *testing.T) {
	want, err := os.ReadFile("testdata/app-metadata")
	if err != nil {
		t.Fatal(err)
	}
	m := New(ref.App, "org.test.Hello", "org.test.Platform/x86_64/1", "org.test.Platform/x86_64/1")
	m.Set("command", "hello")
	c := permissions.New()
	for _, o := range [][2]string{{"share", "network"}, {"socket", "wayland"}, {"socket", "fallback-x11"},
		{"device", "dri"}, {"filesystem", "home:ro"}, {"talk-name", "org.freedesktop.Notifications"},
		{"system-talk-name", "org.freedesktop.UDisks2"}, {"env", "FOO=bar"}, {"persist", ".hello"}} {
		if err := c.ApplyOption(o[0], o[1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.AddContext(c); err != nil {
		t.Fatal(err)
	}
	if got := m.Bytes(); string(got) != string(want) {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	p, err := Parse(want)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name() != "org.test.Hello" || p.Command() != "hello" || p.Kind() != ref.App || p.SDK() == "" {
		t.Errorf("parsed %q %q %q", p.Name(), p.Command(), p.Kind())
	}
	if r, err := p.RuntimeRef(); err != nil || r.String() != "runtime/org.test.Platform/x86_64/1" {
		t.Errorf("runtime ref %v %v", r, err)
	}
	if string(p.Bytes()) != string(want) {
		t.Error("round trip changed the file")
	}
}

func TestParseErrors(t *testing.T) {
	for _, s := range []string{"", "[Context]\nshared=network;\n", "[Application]\nruntime=a/b/c\n", "[Application\n"} {
		if _, err := Parse([]byte(s)); err == nil {
			t.Errorf("Parse(%q) accepted", s)
		}
	}
}

func FuzzParse(f *testing.F) {
	data, _ := os.ReadFile("testdata/app-metadata")
	f.Add(data)
	f.Add([]byte("[Runtime]\nname=org.test.Platform\n"))
	f.Fuzz(func(t *testing.T, d []byte) {
		m, err := Parse(d)
		if err != nil {
			return
		}
		_, _ = m.Context()
		_ = m.Bytes()
	})
}
