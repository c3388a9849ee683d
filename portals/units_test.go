package portals

import (
	"encoding/xml"
	"io/fs"
	"reflect"
	"sort"
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/introspect"
	"github.com/google/go-cmp/cmp"
	dbusinterfaces "github.com/porthole-dev/porthole/data/dbus-interfaces"
)

func TestCleanMarkup(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"test <b>notification</b> body <i>italic</i>", "test <b>notification</b> body <i>italic</i>"},
		{`x <a href="https://example.com" title="t"><b>link</b></a>`, `x <a href="https://example.com"><b>link</b></a>`},
		{"&lt;html&gt;", "&lt;html&gt;"},
		{`<a href="https://xkcd.com/327/#&quot;&gt;&lt;html&gt;"></a>`, `<a href="https://xkcd.com/327/#&quot;&gt;&lt;html&gt;"></a>`},
		{"a \n b \n\n c  ", "a b c"},
		{"test <custom> tag </custom>", "test tag"},
	} {
		got, err := cleanMarkup(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("cleanMarkup(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"a <b>b<b> c", "<b>x<i>y</b></i>", "<markup><i>n</i><markup>", "a & b"} {
		if got, err := cleanMarkup(bad); err == nil {
			t.Errorf("cleanMarkup(%q) = %q, want error", bad, got)
		}
	}
}

func FuzzCleanMarkup(f *testing.F) {
	for _, s := range []string{"test <b>x</b>", `<a href="u">l</a>`, "&lt;&amp;", "<b>foo<i>bar</b></i>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := cleanMarkup(s)
		if err != nil {
			return
		}
		// The cleaned body must itself be valid and stable.
		again, err := cleanMarkup(out)
		if err != nil || again != out {
			t.Fatalf("cleanMarkup(%q) = %q, re-cleaned %q, %v", s, out, again, err)
		}
	})
}

func TestSplitExec(t *testing.T) {
	for in, want := range map[string][]string{
		"true %u":                      {"true", "%u"},
		`"/opt/my app/bin" --x "a\"b"`: {"/opt/my app/bin", "--x", `a"b`},
		"  env  A=1   prog %F ":        {"env", "A=1", "prog", "%F"},
	} {
		if diff := cmp.Diff(want, splitExec(in)); diff != "" {
			t.Errorf("splitExec(%q) (-want +got):\n%s", in, diff)
		}
	}
}

func TestLookupProxy(t *testing.T) {
	e := env(map[string]string{"https_proxy": "proxy.example:3128", "NO_PROXY": "localhost,.internal"})
	for uri, want := range map[string]string{
		"https://www.example.com/": "http://proxy.example:3128",
		"http://www.example.com/":  "direct://",
		"https://a.internal/":      "direct://",
		"https://localhost/":       "direct://",
		"not a uri":                "direct://",
	} {
		if got := lookupProxy(e, uri); len(got) != 1 || got[0] != want {
			t.Errorf("lookupProxy(%q) = %v, want [%s]", uri, got, want)
		}
	}
}

func TestEmailOptions(t *testing.T) {
	ok := map[string]dbus.Variant{"address": dbus.MakeVariant("a@example.com"), "cc": dbus.MakeVariant([]string{"b.c+d@x-y.org"}), "subject": dbus.MakeVariant("hi")}
	if err := checkEmailOptions(ok); err != nil {
		t.Errorf("checkEmailOptions(valid) = %v", err)
	}
	for _, bad := range []map[string]dbus.Variant{
		{"address": dbus.MakeVariant("not an address")},
		{"bcc": dbus.MakeVariant([]string{"a@b", "@x"})},
		{"subject": dbus.MakeVariant("two\nlines")},
	} {
		if err := checkEmailOptions(bad); err == nil {
			t.Errorf("checkEmailOptions(%v) = nil, want error", bad)
		}
	}
}

func TestNormalizeKeepsSignature(t *testing.T) {
	for _, v := range []dbus.Variant{
		dbus.MakeVariantWithSignature([]any{1.0, 2.0, 3.0}, dbus.ParseSignatureMust("(ddd)")),
		dbus.MakeVariantWithSignature([][]any{}, dbus.ParseSignatureMust("a(ss)")),
		dbus.MakeVariantWithSignature([]any{"n", [][]any{{uint32(0), "*.txt"}}}, dbus.ParseSignatureMust("(sa(us))")),
		dbus.MakeVariantWithSignature(map[string][]any{"k": {int32(1), "x"}}, dbus.ParseSignatureMust("a{s(is)}")),
	} {
		n := normalizeVariant(v)
		if got := dbus.SignatureOf(n.Value()).String(); got != v.Signature().String() {
			t.Errorf("normalizeVariant(%v) encodes as %s, want %s", v, got, v.Signature())
		}
	}
}

// TestInterfacesMatchXML checks that every method in data/dbus-interfaces
// is implemented with the same arguments by the Go objects, and back.
func TestInterfacesMatchXML(t *testing.T) {
	objs := map[string]any{
		"org.freedesktop.portal.Settings":       &settingsPortal{},
		"org.freedesktop.portal.NetworkMonitor": &networkMonitor{},
		"org.freedesktop.portal.ProxyResolver":  &proxyResolver{},
		"org.freedesktop.portal.FileChooser":    &fileChooser{},
		"org.freedesktop.portal.Trash":          trashPortal{},
		"org.freedesktop.portal.Account":        &account{},
		"org.freedesktop.portal.Email":          &email{},
		"org.freedesktop.portal.Screenshot":     &screenshot{},
		"org.freedesktop.portal.Wallpaper":      &wallpaper{},
		"org.freedesktop.portal.Print":          &printPortal{},
		"org.freedesktop.portal.Inhibit":        &inhibit{},
		"org.freedesktop.portal.Notification":   &notificationPortal{},
		"org.freedesktop.portal.Background":     &background{},
		"org.freedesktop.portal.OpenURI":        &openURI{},
		"org.freedesktop.portal.Location":       &location{},
		"org.freedesktop.portal.RemoteDesktop":  &remoteDesktop{},
		"org.freedesktop.portal.Request":        requestObject{},
		"org.freedesktop.portal.Session":        sessionObject{},
		"org.freedesktop.host.portal.Registry":  registry{},
	}
	files, _ := fs.Glob(dbusinterfaces.Portal, "*.xml")
	seen := map[string]bool{}
	for _, f := range files {
		data, _ := dbusinterfaces.Portal.ReadFile(f)
		var n introspect.Node
		if err := xml.Unmarshal(data, &n); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, iface := range n.Interfaces {
			obj, ok := objs[iface.Name]
			if !ok {
				continue // described for clients, not implemented yet
			}
			seen[iface.Name] = true
			want := map[string]string{}
			for _, m := range iface.Methods {
				var in, out string
				for _, a := range m.Args {
					if a.Direction == "out" {
						out += a.Type
					} else {
						in += a.Type
					}
				}
				want[m.Name] = in + "->" + out
			}
			got := goMethods(obj)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s (-xml +go):\n%s", iface.Name, diff)
			}
		}
	}
	var missing []string
	for name := range objs {
		if !seen[name] {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("no XML for %v", missing)
	}
}

// goMethods lists the D-Bus methods of obj as name → "in->out".
func goMethods(obj any) map[string]string {
	out := map[string]string{}
	t := reflect.TypeOf(obj)
	for i := 0; i < t.NumMethod(); i++ {
		m := t.Method(i)
		ft := m.Type
		if ft.NumOut() == 0 || ft.Out(ft.NumOut()-1) != dbusErrorType {
			continue
		}
		var in, res string
		for j := 1; j < ft.NumIn(); j++ {
			if pt := ft.In(j); pt != senderType && pt != messageType {
				in += dbus.SignatureOfType(pt).String()
			}
		}
		for j := 0; j < ft.NumOut()-1; j++ {
			res += dbus.SignatureOfType(ft.Out(j)).String()
		}
		out[m.Name] = in + "->" + res
	}
	return out
}
