package documentportal

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParsePerms(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want Perm
		err  bool
	}{
		{nil, 0, false},
		{[]string{"read"}, PermRead, false},
		{[]string{"write", "read"}, PermRead | PermWrite, false},
		{[]string{"grant-permissions", "delete"}, PermGrant | PermDelete, false},
		{[]string{"read", "read"}, PermRead, false},
		{[]string{"Read"}, 0, true},
		{[]string{"read", ""}, 0, true},
	} {
		got, err := ParsePerms(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParsePerms(%q) = %v, %v, want %v (error %v)", tc.in, got, err, tc.want, tc.err)
		}
		if err != nil && !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("ParsePerms(%q) error %v is not InvalidArgument", tc.in, err)
		}
	}
	if diff := cmp.Diff(PermAll.Strings(), []string{"read", "write", "grant-permissions", "delete"}); diff != "" {
		t.Errorf("PermAll.Strings() (-got +want):\n%s", diff)
	}
	if got := Perm(0).Strings(); got == nil || len(got) != 0 {
		t.Errorf("Perm(0).Strings() = %#v, want empty non-nil", got)
	}
}

func TestValidAppID(t *testing.T) {
	for id, want := range map[string]bool{
		"org.example.App":         true,
		"org.test.read.App1":      true,
		"snap.foo":                true,
		"com.example.my-app":      true,
		"1org.example.App":        true,
		"org.example_1.App":       true,
		"":                        false,
		"noDots":                  false,
		".org.example":            false,
		"org.example.":            false,
		"org..example":            false,
		"org.my-example.App":      false,
		"org.example.App/x":       false,
		"org.example.Äpp":         false,
		"not-an-app-id":           false,
		string(make([]byte, 256)): false,
	} {
		if got := ValidAppID(id); got != want {
			t.Errorf("ValidAppID(%q) = %v, want %v", id, got, want)
		}
	}
}

func FuzzValidAppID(f *testing.F) {
	for _, s := range []string{"org.example.App", "a.b", "a..b", "a.b-c", "a-b.c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !ValidAppID(s) {
			return
		}
		if len(s) > 255 || s[0] == '.' || s[len(s)-1] == '.' {
			t.Fatalf("ValidAppID(%q) = true", s)
		}
	})
}
