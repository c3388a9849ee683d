package keyfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func mustParse(t *testing.T, s string) *File {
	t.Helper()
	f, err := Parse([]byte(s))
	if err != nil {
		t.Fatalf("Parse(%q) = %v", s, err)
	}
	return f
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		in   string
		line int
		is   error
		msg  string
	}{
		{"k=v\n", 1, ErrParse, "before the first group"},
		{"# c\n\nk=v\n", 3, ErrParse, "before the first group"},
		{"[A]\nk=v\njunk\n", 3, ErrParse, `"junk" is not a group`},
		{"[A]\n=v\n", 2, ErrParse, "is not a group"},
		{"[A]\n\n\nName[d e]=x\n", 4, ErrParse, `invalid key name "Name[d e]"`},
		{"[A]\na]b=1\n", 2, ErrParse, "invalid key name"},
		{"[A]\na[de=1\n", 2, ErrParse, "invalid key name"},
		{"[A]\na[de]x=1\n", 2, ErrParse, "invalid key name"},
		{"[A]\n[]\n", 2, ErrParse, `invalid group name ""`},
		{"[a[b]\n", 1, ErrParse, `invalid group name "a[b"`},
		{"[a\x01]\n", 1, ErrParse, "invalid group name"},
		{"[a]b\n", 1, ErrParse, "is not a group"},
		{"[A]\r\nEncoding=latin1\r\n", 2, ErrUnknownEncoding, `"latin1"`},
	} {
		_, err := Parse([]byte(tc.in))
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("Parse(%q) = %v, want a *ParseError", tc.in, err)
			continue
		}
		if pe.Line != tc.line || !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("Parse(%q) = %v (line %d), want line %d, %v, containing %q", tc.in, err, pe.Line, tc.line, tc.is, tc.msg)
		}
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.desktop")
	os.WriteFile(good, []byte("[Desktop Entry]\nName=X\n"), 0o644)
	f, err := Load(good)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := f.String("Desktop Entry", "Name"); v != "X" {
		t.Errorf("Name = %q, want X", v)
	}
	bad := filepath.Join(dir, "bad.desktop")
	os.WriteFile(bad, []byte("[Desktop Entry]\nbad\n"), 0o644)
	if _, err := Load(bad); err == nil || !strings.Contains(err.Error(), bad+": line 2") || !errors.Is(err, ErrParse) {
		t.Errorf("Load(bad) = %v, want an ErrParse naming %s and line 2", err, bad)
	}
	if _, err := Load(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want not exist", err)
	}
}

func TestLookupErrors(t *testing.T) {
	f := mustParse(t, "[A]\nb=maybe\ni=x\ns=a\\qb\nl=a;\\q;\n")
	if _, err := f.Value("B", "k"); !errors.Is(err, ErrGroupNotFound) {
		t.Errorf("Value(B, k) = %v, want ErrGroupNotFound", err)
	}
	if _, err := f.Value("A", "k"); !errors.Is(err, ErrKeyNotFound) {
		t.Errorf("Value(A, k) = %v, want ErrKeyNotFound", err)
	}
	if _, err := f.Keys("B"); !errors.Is(err, ErrGroupNotFound) {
		t.Errorf("Keys(B) = %v, want ErrGroupNotFound", err)
	}
	for name, err := range map[string]error{
		"Bool":       second(f.Bool("A", "b")),
		"Int":        second(f.Int("A", "i")),
		"Int64":      second(f.Int64("A", "i")),
		"Uint64":     second(f.Uint64("A", "i")),
		"Float64":    second(f.Float64("A", "i")),
		"String":     second(f.String("A", "s")),
		"StringList": second(f.StringList("A", "l")),
		"IntList":    second(f.IntList("A", "b")),
		"BoolList":   second(f.BoolList("A", "i")),
	} {
		if !errors.Is(err, ErrInvalidValue) {
			t.Errorf("%s = %v, want ErrInvalidValue", name, err)
		}
	}
	f2 := mustParse(t, "[A]\ns=\xff\n")
	if _, err := f2.String("A", "s"); !errors.Is(err, ErrUnknownEncoding) {
		t.Errorf("String(non-UTF-8) = %v, want ErrUnknownEncoding", err)
	}
	if v, err := f2.Value("A", "s"); err != nil || v != "\xff" {
		t.Errorf("Value(non-UTF-8) = %q, %v, want the raw bytes", v, err)
	}
}

func second[T any](_ T, err error) error { return err }

func TestSetRejects(t *testing.T) {
	f := New()
	for _, tc := range []struct{ group, key, value string }{
		{"", "k", "v"},
		{"a]", "k", "v"},
		{"a[", "k", "v"},
		{"a\nb", "k", "v"},
		{"A", "", "v"},
		{"A", "a=b", "v"},
		{"A", " a", "v"},
		{"A", "a ", "v"},
		{"A", "a[b", "v"},
		{"A", "a[b c]", "v"},
		{"A", "a]", "v"},
		{"A", "k", "a\nb"},
		{"A", "k", "a\rb"},
		{"A", "k", " lead"},
	} {
		err := f.SetValue(tc.group, tc.key, tc.value)
		if !errors.Is(err, ErrInvalidName) && !errors.Is(err, ErrInvalidValue) {
			t.Errorf("SetValue(%q, %q, %q) = %v, want an error", tc.group, tc.key, tc.value, err)
		}
	}
	if err := f.SetInt("A", "k", 1<<40); !errors.Is(err, ErrInvalidValue) {
		t.Errorf("SetInt(1<<40) = %v, want ErrInvalidValue", err)
	}
	if got := string(f.Bytes()); got != "" {
		t.Errorf("rejected sets changed the file: %q", got)
	}
}

func TestStringRoundTrip(t *testing.T) {
	f := New()
	for _, s := range []string{"", " ", "  a b  ", "\ttab", "a;b", `back\slash`, "nl\nand\rcr", "ü; ;\\;", "#not a comment", "[x]"} {
		if err := f.SetString("G", "k", s); err != nil {
			t.Fatal(err)
		}
		g := mustParse(t, string(f.Bytes()))
		if got, err := g.String("G", "k"); err != nil || got != s {
			t.Errorf("String after SetString(%q) = %q, %v", s, got, err)
		}
	}
	for _, list := range [][]string{{}, {""}, {"a"}, {"a", ""}, {"", "b"}, {" lead", "semi;colon", `\`, "x\ny", "\t"}} {
		if err := f.SetStringList("G", "l", list); err != nil {
			t.Fatal(err)
		}
		g := mustParse(t, string(f.Bytes()))
		got, err := g.StringList("G", "l")
		if err != nil || !cmp.Equal(got, list, cmpopts.EquateEmpty()) {
			t.Errorf("StringList after SetStringList(%q) = %q, %v", list, got, err)
		}
	}
}

func TestTypedRoundTrip(t *testing.T) {
	f := New()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(f.SetBool("T", "b", true))
	must(f.SetInt("T", "i", -2147483648))
	must(f.SetInt64("T", "j", -1<<63))
	must(f.SetUint64("T", "u", 1<<64-1))
	must(f.SetFloat64("T", "d", 0.1))
	must(f.SetBoolList("T", "bl", []bool{true, false}))
	must(f.SetIntList("T", "il", []int{1, -2}))
	must(f.SetFloat64List("T", "dl", []float64{1.5, -1e300}))
	g := mustParse(t, string(f.Bytes()))
	if v, err := g.Bool("T", "b"); err != nil || !v {
		t.Errorf("Bool = %v, %v", v, err)
	}
	if v, err := g.Int("T", "i"); err != nil || v != -2147483648 {
		t.Errorf("Int = %v, %v", v, err)
	}
	if v, err := g.Int64("T", "j"); err != nil || v != -1<<63 {
		t.Errorf("Int64 = %v, %v", v, err)
	}
	if v, err := g.Uint64("T", "u"); err != nil || v != 1<<64-1 {
		t.Errorf("Uint64 = %v, %v", v, err)
	}
	if v, err := g.Float64("T", "d"); err != nil || v != 0.1 {
		t.Errorf("Float64 = %v, %v", v, err)
	}
	if v, err := g.BoolList("T", "bl"); err != nil || !cmp.Equal(v, []bool{true, false}) {
		t.Errorf("BoolList = %v, %v", v, err)
	}
	if v, err := g.IntList("T", "il"); err != nil || !cmp.Equal(v, []int{1, -2}) {
		t.Errorf("IntList = %v, %v", v, err)
	}
	if v, err := g.Float64List("T", "dl"); err != nil || !cmp.Equal(v, []float64{1.5, -1e300}) {
		t.Errorf("Float64List = %v, %v", v, err)
	}
}

func TestLocaleString(t *testing.T) {
	const base = "[Desktop Entry]\nName=Plain\n"
	for _, tc := range []struct {
		keys string // translations present
		want string
	}{
		{"Name[de_DE.UTF-8@euro]=full\nName[de_DE@euro]=terr-mod\nName[de_DE]=terr\nName[de@euro]=mod\nName[de]=lang\n", "full"},
		{"Name[de_DE@euro]=terr-mod\nName[de_DE]=terr\nName[de@euro]=mod\nName[de]=lang\n", "terr-mod"},
		// GLib's order puts de@euro (and de.UTF-8@euro) before de_DE.
		{"Name[de_DE]=terr\nName[de@euro]=mod\nName[de]=lang\n", "mod"},
		{"Name[de_DE]=terr\nName[de]=lang\n", "terr"},
		{"Name[de]=lang\nName[fr]=fr\n", "lang"},
		{"Name[fr]=fr\n", "Plain"},
	} {
		f := mustParse(t, base+tc.keys)
		if got, err := f.LocaleString("Desktop Entry", "Name", "de_DE.UTF-8@euro"); err != nil || got != tc.want {
			t.Errorf("LocaleString with %q = %q, %v, want %q", tc.keys, got, err, tc.want)
		}
	}
	f := mustParse(t, base+"Keywords=a;b;\nKeywords[de]=x;y;\n")
	if got, _ := f.LocaleStringList("Desktop Entry", "Keywords", "de_AT"); !cmp.Equal(got, []string{"x", "y"}) {
		t.Errorf("LocaleStringList(de_AT) = %q, want [x y]", got)
	}
	if _, err := f.LocaleString("Desktop Entry", "Missing", "de"); !errors.Is(err, ErrKeyNotFound) {
		t.Errorf("LocaleString(Missing) = %v, want ErrKeyNotFound", err)
	}
	if err := f.SetLocaleString("Desktop Entry", "Name", "pt_BR", "Nome"); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.LocaleString("Desktop Entry", "Name", "pt_BR.UTF-8"); got != "Nome" {
		t.Errorf("LocaleString(pt_BR.UTF-8) = %q, want Nome", got)
	}
}

func TestLanguages(t *testing.T) {
	for _, tc := range []struct {
		language, lcAll, lcMessages, lang string
		want                              []string
	}{
		{"", "", "", "", []string{"C"}},
		{"", "", "", "fr_FR.UTF-8", []string{"fr_FR.UTF-8", "fr_FR", "fr.UTF-8", "fr", "C"}},
		{"", "de_DE", "", "fr_FR", []string{"de_DE", "de", "C"}},
		{"", "", "pt_BR", "fr_FR", []string{"pt_BR", "pt", "C"}},
		{"sv:nb_NO", "de_DE", "", "", []string{"sv", "nb_NO", "nb", "C"}},
	} {
		t.Setenv("LANGUAGE", tc.language)
		t.Setenv("LC_ALL", tc.lcAll)
		t.Setenv("LC_MESSAGES", tc.lcMessages)
		t.Setenv("LANG", tc.lang)
		if diff := cmp.Diff(Languages(), tc.want); diff != "" {
			t.Errorf("Languages() with %+v (-got +want):\n%s", tc, diff)
		}
	}
}

func TestDuplicates(t *testing.T) {
	f := mustParse(t, "[A]\nk=1\nj=x\nk=2\n[B]\n[A]\nl=3\n")
	if v, _ := f.Value("A", "k"); v != "2" {
		t.Errorf("Value(k) = %q, want the last, 2", v)
	}
	keys, _ := f.Keys("A")
	if diff := cmp.Diff(keys, []string{"k", "j", "k", "l"}); diff != "" {
		t.Errorf("Keys(A) (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(f.Groups(), []string{"A", "B"}); diff != "" {
		t.Errorf("Groups() (-got +want):\n%s", diff)
	}
	if err := f.SetValue("A", "k", "9"); err != nil {
		t.Fatal(err)
	}
	want := "[A]\nk=1\nj=x\nk=9\nl=3\n[B]\n"
	if got := string(f.Bytes()); got != want {
		t.Errorf("Bytes() = %q, want %q", got, want)
	}
}

func TestEditsKeepLayout(t *testing.T) {
	in := "# Top comment\n[Desktop Entry]\n# about Name\nName=Foo\nName[de]=Föö\n\n# trailing\n\n[Desktop Action new]\nExec=foo --new\n"
	f := mustParse(t, in)
	if got := string(f.Bytes()); got != in {
		t.Fatalf("round trip:\n got %q\nwant %q", got, in)
	}
	if err := f.SetString("Desktop Entry", "Name", "Bar"); err != nil {
		t.Fatal(err)
	}
	if err := f.SetString("Desktop Action new", "Name", "New"); err != nil {
		t.Fatal(err)
	}
	if err := f.RemoveKey("Desktop Entry", "Name[de]"); err != nil {
		t.Fatal(err)
	}
	if err := f.SetBool("Extra", "Hidden", true); err != nil {
		t.Fatal(err)
	}
	want := "# Top comment\n[Desktop Entry]\n# about Name\nName=Bar\n\n# trailing\n\n[Desktop Action new]\nExec=foo --new\nName=New\n\n[Extra]\nHidden=true\n"
	if got := string(f.Bytes()); got != want {
		t.Errorf("after edits:\n got %q\nwant %q", got, want)
	}
	if err := f.RemoveGroup("Desktop Entry"); err != nil {
		t.Fatal(err)
	}
	if f.HasGroup("Desktop Entry") || !f.HasGroup("Extra") || !f.HasKey("Extra", "Hidden") || f.HasKey("Extra", "x") {
		t.Errorf("HasGroup/HasKey wrong after RemoveGroup: %q", f.Bytes())
	}
	if err := f.RemoveGroup("Desktop Entry"); !errors.Is(err, ErrGroupNotFound) {
		t.Errorf("RemoveGroup twice = %v, want ErrGroupNotFound", err)
	}
	if err := f.RemoveKey("Extra", "x"); !errors.Is(err, ErrKeyNotFound) {
		t.Errorf("RemoveKey(missing) = %v, want ErrKeyNotFound", err)
	}
}

func TestLineEnds(t *testing.T) {
	f := mustParse(t, "[A]\r\nk=v\r\n# c\r\n")
	if got, want := string(f.Bytes()), "[A]\nk=v\n# c\n"; got != want {
		t.Errorf("Bytes() = %q, want %q", got, want)
	}
	f = mustParse(t, "[A]\nk=v")
	if got, want := string(f.Bytes()), "[A]\nk=v\n"; got != want {
		t.Errorf("Bytes() = %q, want %q", got, want)
	}
}
