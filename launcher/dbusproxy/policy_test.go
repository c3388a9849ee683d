package dbusproxy

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseRule(t *testing.T) {
	for _, tc := range []struct {
		rule string
		want filter
	}{
		{"", filter{}},
		{"*", filter{}},
		{"org.a.B.*", filter{iface: "org.a.B"}},
		{"org.a.B.Meth", filter{iface: "org.a.B", member: "Meth"}},
		{"@/a/b", filter{path: "/a/b"}},
		{"@/a/b/*", filter{path: "/a/b", pathSubtree: true}},
		{"*@/a", filter{path: "/a"}},
		{"org.a.B.Meth@/a/*", filter{iface: "org.a.B", member: "Meth", path: "/a", pathSubtree: true}},
		{"@", filter{}},
		{"NoDot", filter{iface: "NoDot"}},
	} {
		got := parseRule(tc.rule, kindCall)
		tc.want.level, tc.want.kinds = LevelTalk, kindCall
		if diff := cmp.Diff(tc.want, *got, cmp.AllowUnexported(filter{})); diff != "" {
			t.Errorf("parseRule(%q) (-want +got):\n%s", tc.rule, diff)
		}
	}
}

func TestFilterMatches(t *testing.T) {
	for _, tc := range []struct {
		rule, path, iface, member string
		want                      bool
	}{
		{"*", "/x", "a.B", "M", true},
		{"a.B.*", "/x", "a.B", "M", true},
		{"a.B.*", "/x", "a.C", "M", false},
		{"a.B.M", "/x", "a.B", "M", true},
		{"a.B.M", "/x", "a.B", "N", false},
		{"@/a/*", "/a", "a.B", "M", true},
		{"@/a/*", "/a/b/c", "a.B", "M", true},
		{"@/a/*", "/ab", "a.B", "M", false},
		{"@/a", "/a/b", "a.B", "M", false},
		{"a.B.M@/a", "/a", "a.B", "M", true},
		{"a.B.M@/a", "/a", "", "M", false},
	} {
		f := parseRule(tc.rule, kindCall)
		if got := f.matches(kindCall, tc.path, tc.iface, tc.member); got != tc.want {
			t.Errorf("rule %q matches(%s, %s, %s) = %v, want %v", tc.rule, tc.path, tc.iface, tc.member, got, tc.want)
		}
		if f.matches(kindBroadcast, tc.path, tc.iface, tc.member) {
			t.Errorf("call rule %q matches a broadcast", tc.rule)
		}
	}
}

func TestWellKnownLevels(t *testing.T) {
	p := Policy{Filter: true}
	p.SetLevel("org.see.Exact", LevelSee)
	p.SetLevel("org.own.*", LevelOwn)
	p.SetLevel("org.talk.A.*", LevelTalk)
	p.AddCall("org.call.X", "*")
	r, err := compile(p)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]Level{
		"org.freedesktop.DBus":   LevelTalk,
		"org.see.Exact":          LevelSee,
		"org.see.Exact.Below":    LevelNone,
		"org.see":                LevelNone,
		"org.own":                LevelOwn,
		"org.own.x.y":            LevelOwn,
		"org.owner":              LevelNone,
		"org.talk.A":             LevelTalk,
		"org.talk.A.B":           LevelTalk,
		"org.talk":               LevelNone,
		"org.call.X":             LevelTalk,
		"org.call.X.Y":           LevelNone,
		"org.freedesktop.Hidden": LevelNone,
	} {
		if got := r.wellKnown(name, nil); got != want {
			t.Errorf("wellKnown(%s) = %v, want %v", name, got, want)
		}
	}
}

func TestSessionBusPolicy(t *testing.T) {
	p, err := SessionBusPolicy("org.example.App", map[string]string{
		"org.freedesktop.Notifications": "talk",
		"org.example.Seen":              "see",
		"org.example.Nothing":           "none",
	})
	if err != nil {
		t.Fatal(err)
	}
	got := p.Args()
	wantArgs := []string{
		"--filter",
		"--own=org.example.App.*",
		"--see=org.example.Seen",
		"--talk=org.freedesktop.Notifications",
		"--own=org.mpris.MediaPlayer2.org.example.App.*",
		"--call=org.freedesktop.portal.*=*",
		"--broadcast=org.freedesktop.portal.*=@/org/freedesktop/portal/*",
	}
	if diff := cmp.Diff(wantArgs, got); diff != "" {
		t.Errorf("SessionBusPolicy(...).Args() (-want +got):\n%s", diff)
	}
	if _, err := SessionBusPolicy("org.example.App", map[string]string{"org.x.Y": "shout"}); !errors.Is(err, ErrBadPolicy) {
		t.Errorf("SessionBusPolicy(bad level) error = %v, want ErrBadPolicy", err)
	}
	sys, err := SystemBusPolicy(map[string]string{"org.freedesktop.login1": "talk"})
	if err != nil || !cmp.Equal(sys.Args(), []string{"--filter", "--talk=org.freedesktop.login1"}) {
		t.Errorf("SystemBusPolicy = %v, %v", sys.Args(), err)
	}
	if a := A11yBusPolicy(); !a.SloppyNames || len(a.Calls["org.a11y.atspi.Registry"]) != 7 {
		t.Errorf("A11yBusPolicy = %+v", a)
	}
}

func TestPolicyMergeAndValidate(t *testing.T) {
	var p Policy
	p.Merge(Policy{Names: map[string]Level{"a.b": LevelSee}, Calls: map[string][]string{"c.d": {"*"}}})
	p.Merge(Policy{Filter: true, Names: map[string]Level{"a.b": LevelOwn, "e.f.*": LevelTalk}, Broadcasts: map[string][]string{"c.d": {"@/x"}}})
	want := []string{"--filter", "--own=a.b", "--talk=e.f.*", "--call=c.d=*", "--broadcast=c.d=@/x"}
	if diff := cmp.Diff(want, p.Args()); diff != "" {
		t.Errorf("merged Args (-want +got):\n%s", diff)
	}
	p.SetLevel("a.b", LevelSee) // never lowers
	if p.Names["a.b"] != LevelOwn {
		t.Errorf("SetLevel lowered a level")
	}
	for _, bad := range []string{":1.2", "nodot", "a..b", "1a.b", "a.b.*.*", ""} {
		q := Policy{Names: map[string]Level{bad: LevelTalk}}
		if err := q.Validate(); !errors.Is(err, ErrBadPolicy) {
			t.Errorf("Validate(%q) = %v, want ErrBadPolicy", bad, err)
		}
	}
	for _, good := range []string{"a.b", "a.b.*", "org.mpris.MediaPlayer2.x-y_z.*"} {
		q := Policy{Names: map[string]Level{good: LevelTalk}}
		if err := q.Validate(); err != nil {
			t.Errorf("Validate(%q) = %v", good, err)
		}
	}
}

func TestParseAddress(t *testing.T) {
	got, err := parseAddress("tcp:host=x;unix:path=/run/a%20b,guid=1;unix:abstract=zz")
	if err != nil || len(got) != 2 || got[0].Name != "/run/a b" || got[1].Name != "@zz" {
		t.Errorf("parseAddress = %v, %v", got, err)
	}
	for _, bad := range []string{"", "tcp:host=localhost,port=1", "unix:path=/a%zz"} {
		if _, err := parseAddress(bad); !errors.Is(err, ErrBadAddress) {
			t.Errorf("parseAddress(%q) = %v, want ErrBadAddress", bad, err)
		}
	}
}
