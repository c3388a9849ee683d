package ref

import (
	"errors"
	"testing"
)

func TestParse(t *testing.T) {
	good := []string{"app/org.test.Hello/x86_64/stable", "runtime/org.test.Platform/x86_64/1",
		"runtime/org.freedesktop.Platform.GL.default/x86_64/23.08", "app/com.ex_a.A-b/aarch64/1.0-beta",
		"runtime/org.test.Platform.Locale/x86_64/master"}
	for _, s := range good {
		r, err := Parse(s)
		if err != nil || r.String() != s {
			t.Errorf("Parse(%q) = %v, %v", s, r, err)
		}
	}
	bad := []string{"", "app/org.test/x86_64/1", "apps/org.test.A/x86_64/1", "app/org.te-st.A/x86_64/1",
		"app/org.test.1A/x86_64/1", "app/org..A/x86_64/1", "app/org.test.A/x8-6/1", "app/org.test.A/x86_64/.1",
		"app/org.test.A/x86_64/a/b", "app/org.test.A/x86_64/", "app/org.test.A/x86_64/b b"}
	for _, s := range bad {
		if _, err := Parse(s); !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%q) err = %v", s, err)
		}
	}
}

func TestPartial(t *testing.T) {
	refs := []string{"app/org.test.Hello/x86_64/stable", "app/org.test.Hello/x86_64/beta",
		"runtime/org.test.Platform/x86_64/1", "runtime/org.test.Platform/aarch64/1", "appstream/x86_64"}
	cases := []struct {
		in, want string
		err      error
	}{
		{"org.test.Hello//stable", "app/org.test.Hello/x86_64/stable", nil},
		{"org.test.Hello", "", ErrAmbiguous},
		{"app/org.test.Hello/x86_64/beta", "app/org.test.Hello/x86_64/beta", nil},
		{"org.test.Platform", "runtime/org.test.Platform/" + NativeArch() + "/1", nil},
		{"org.test.Platform/aarch64", "runtime/org.test.Platform/aarch64/1", nil},
		{"org.test.Nope", "", ErrNoMatch},
	}
	for _, c := range cases {
		p, err := ParsePartial(c.in, "", "", "")
		if err != nil {
			t.Fatalf("ParsePartial(%q): %v", c.in, err)
		}
		r, err := p.Match(refs)
		if c.err != nil {
			if !errors.Is(err, c.err) {
				t.Errorf("%q: err %v, want %v", c.in, err, c.err)
			}
			continue
		}
		if err != nil || r.String() != c.want {
			t.Errorf("%q: %v %v, want %s", c.in, r, err, c.want)
		}
	}
	if _, err := ParsePartial("runtime/org.test.A", App, "", ""); err == nil {
		t.Error("kind mismatch accepted")
	}
}

func FuzzParse(f *testing.F) {
	f.Add("app/org.test.Hello/x86_64/stable")
	f.Add("runtime/org.test.Platform/x86_64/1")
	f.Add("org.test.Hello//stable")
	f.Fuzz(func(t *testing.T, s string) {
		if r, err := Parse(s); err == nil {
			if r.String() != s {
				t.Fatalf("round trip %q → %q", s, r.String())
			}
		}
		if p, err := ParsePartial(s, "", "", ""); err == nil {
			_, _ = p.Match([]string{"app/org.test.Hello/x86_64/stable"})
		}
	})
}
