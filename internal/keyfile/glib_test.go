package keyfile

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/porthole-dev/porthole/internal/testenv"
)

// The reference is GLib itself, through /usr/bin/python3 and python3-gi
// (testdata/glib_oracle.py).

const python = "/usr/bin/python3"

var haveGLib = sync.OnceValue(func() bool {
	return exec.Command(python, "-c", "import gi; gi.require_version('GLib', '2.0'); from gi.repository import GLib").Run() == nil
})

func requireGLib(t testing.TB) {
	t.Helper()
	testenv.Require(t, haveGLib(), "needs "+python+" with python3-gi (GLib.KeyFile)")
}

type oracleCase struct {
	Data    string   `json:"data"` // base64
	Locales []string `json:"locales,omitempty"`
	Ops     [][]any  `json:"ops,omitempty"`
}

type keyDump struct {
	Raw    string             `json:"raw"`
	Str    *string            `json:"str"`
	List   *[]string          `json:"list"`
	Bool   *bool              `json:"bool"`
	Int    *int               `json:"int"`
	Int64  *string            `json:"int64"`
	Uint64 *string            `json:"uint64"`
	Double *string            `json:"double"`
	Locale map[string]*string `json:"locale,omitempty"`
	// LocaleList maps locale to the list, or nil for an error.
	LocaleList map[string]*[]string `json:"locale_list,omitempty"`
}

type fileDump struct {
	Groups []string                       `json:"groups"`
	Keys   map[string][]string            `json:"keys"`
	Values map[string]map[string]*keyDump `json:"values"`
}

type oracleResult struct {
	Err    *string   `json:"err"`
	Out    *string   `json:"out"`
	Dump   *fileDump `json:"dump"`
	OpsOut *string   `json:"ops_out"`
}

// askGLib runs all cases through GLib in one python process.
func askGLib(t *testing.T, cases []oracleCase) []oracleResult {
	t.Helper()
	requireGLib(t)
	in, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python, filepath.Join("testdata", "glib_oracle.py"))
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("glib_oracle.py: %v\n%s", err, stderr.String())
	}
	var res []oracleResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("glib_oracle.py output: %v", err)
	}
	if len(res) != len(cases) {
		t.Fatalf("glib_oracle.py answered %d cases, want %d", len(res), len(cases))
	}
	return res
}

func ptr[T any](v T) *T { return &v }

func opt[T any](v T, err error) *T {
	if err != nil {
		return nil
	}
	return &v
}

// dump computes what glib_oracle.py computes, with our reader.
func dump(f *File, locales []string) *fileDump {
	d := &fileDump{Groups: f.Groups(), Keys: map[string][]string{}, Values: map[string]map[string]*keyDump{}}
	for _, g := range d.Groups {
		keys, _ := f.Keys(g)
		if keys == nil {
			keys = []string{}
		}
		d.Keys[g] = keys
		vals := map[string]*keyDump{}
		d.Values[g] = vals
		for _, k := range keys {
			if _, ok := vals[k]; ok {
				continue
			}
			raw, err := f.Value(g, k)
			if err != nil || !utf8.ValidString(raw) {
				continue
			}
			kd := &keyDump{
				Raw:  raw,
				Str:  opt(f.String(g, k)),
				List: opt(f.StringList(g, k)),
				Bool: opt(f.Bool(g, k)),
				Int:  opt(f.Int(g, k)),
			}
			if kd.List != nil && *kd.List == nil {
				kd.List = ptr([]string{})
			}
			if n, err := f.Int64(g, k); err == nil {
				kd.Int64 = ptr(strconv.FormatInt(n, 10))
			}
			if n, err := f.Uint64(g, k); err == nil {
				kd.Uint64 = ptr(strconv.FormatUint(n, 10))
			}
			if x, err := f.Float64(g, k); err == nil {
				kd.Double = ptr(strconv.FormatUint(math.Float64bits(x), 10))
			}
			if !strings.Contains(k, "[") && len(locales) > 0 {
				kd.Locale = map[string]*string{}
				kd.LocaleList = map[string]*[]string{}
				for _, l := range locales {
					kd.Locale[l] = opt(f.LocaleString(g, k, l))
					kd.LocaleList[l] = opt(f.LocaleStringList(g, k, l))
				}
			}
			vals[k] = kd
		}
	}
	return d
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func unb64(t *testing.T, s *string) []byte {
	t.Helper()
	if s == nil {
		return nil
	}
	b, err := base64.StdEncoding.DecodeString(*s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var testLocales = []string{"de_DE.UTF-8@euro", "de", "fr_FR", "pt_BR", "zh_CN.UTF-8", "sr@latin", "C"}

// compareWithGLib parses each input with us and with GLib and compares
// success, output of to_data, and every value read in every typed way.
func compareWithGLib(t *testing.T, names []string, inputs [][]byte) {
	t.Helper()
	cases := make([]oracleCase, len(inputs))
	for i, in := range inputs {
		cases[i] = oracleCase{Data: b64(in), Locales: testLocales}
	}
	res := askGLib(t, cases)
	parsed := 0
	defer func() { t.Logf("%d of %d inputs parse", parsed, len(inputs)) }()
	for i, in := range inputs {
		name, r := names[i], res[i]
		f, err := Parse(in)
		if (err != nil) != (r.Err != nil) {
			t.Errorf("%s: Parse error = %v, GLib error = %v\ninput: %q", name, err, deref(r.Err), in)
			continue
		}
		if err != nil {
			continue
		}
		parsed++
		if r.Out != nil {
			if got, want := f.ToData(), unb64(t, r.Out); !bytes.Equal(got, want) {
				t.Errorf("%s: ToData() differs from g_key_file_to_data\n got: %q\nwant: %q", name, got, want)
			}
		}
		if diff := cmp.Diff(dump(f, testLocales), r.Dump); diff != "" {
			t.Errorf("%s: values differ from GLib (-ours +glib):\n%s", name, diff)
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

var parseCorpus = []string{
	"",
	"\n",
	"\n\n\n",
	"# only a comment",
	"[A]\nk=v\n[B]\nx=y\n",
	"# c\n[A]\nk=v\n",
	"#c\n\n[A]\nk = v  \n\n\n[B]\n",
	"[A]\nk=v",
	"[A]\r\nk=v\r\n",
	"[A]\nk=v\r",
	"[A]\nk=v\r\r\n",
	"  [A]  \n  k=v\n   \n  #x\n",
	"\t[A]\t\n\tk\t=\tv\t\n",
	"[A]\nk=1\nk=2\n",
	"[A]\n[B]\n[A]\nz=1\n",
	"[A]\nk=1\n\n[B]\nj=2\n\n[A]\nl=3\n",
	"k=v\n",
	"# c\nk=v\n[A]\n",
	"[A]\n=v\n",
	"[A]\na]b=1\n",
	"[A]\na[b=1\n",
	"[A]\na[de]x=1\n",
	"[A]\na[]=1\n",
	"[A]\na[de_DE.UTF-8@euro]=1\n",
	"[A]\na[d e]=1\n",
	"[A]\na[ü]=1\n",
	"[A]\na[de]]=1\n",
	"[A]\n a b =1\n",
	"[A]\nä=ö\n",
	"[A]\nk==v\n",
	"[A]\nk=\n",
	"[A]\nk=   \n",
	"[a[b]\n",
	"[a]b]\n",
	"[a]]\n",
	"[a] x\n",
	"[]\n",
	"[a\tb]\n",
	"[a b]\n",
	"[a=b]\n",
	"[a=b\n",
	"[Gröup]\nk=v\n",
	"[A]\nEncoding=latin1\n",
	"[A]\nEncoding=UTF-8\n",
	"[A]\nEncoding=utf-8\n",
	"[A]\n[B]\nEncoding=latin1\n",
	"[A]\nx\n",
	"[A]\n#x\n  # y\n\t\n",
	"[A]\nk=a\\sb\\tc\\nd\\re\\\\f\n",
	"[A]\nk=a\\;b;c\\\\;d;\n",
	"[A]\nk=\\\n",
	"[A]\nk=a\\q\n",
	"[A]\nl=a;;b;\nm=;\nn=;;\no=a\\;\n",
	"[A]\nb1=true\nb2=false\nb3=1\nb4=0\nb5=True\nb6=true \nb7= yes\nb8=truex\nb9=10\n",
	"[A]\ni1=12\ni2=-12\ni3=+5\ni4=12 abc\ni5=12abc\ni6=2147483647\ni7=2147483648\ni8=-2147483648\ni9=-2147483649\ni10=99999999999999999999\ni11=0x10\ni12=012\n",
	"[A]\nj1=9223372036854775807\nj2=9223372036854775808\nj3=-9223372036854775809\nj4=18446744073709551615\nj5=18446744073709551616\nj6=-1\nj7=1 \n",
	"[A]\nd1=1.5\nd2=-0.1\nd3=1e20\nd4=1e400\nd5=inf\nd6=-Infinity\nd7=nan\nd8=0x1p3\nd9=0x10\nd10=.5\nd11=5.\nd12=1e\nd13=1.5 \nd14=1,5\nd15=1_0\n",
	"[A]\nl1=true;false;1;\nl2=1;2;x;\nl3=1;2;3\n",
	"[Desktop Entry]\nName=Foo\nName[de]=Föö\nName[de_DE]=Föö DE\nName[de@euro]=Föö euro\nName[de_DE@euro]=Föö DE euro\nName[sr@latin]=Latin\nName[fr]=a\\q\nComment[pt]=Olá\n",
	"[A]\nk[de]=x\nk=y\n",
	"[A]\nn1=-nan\nn2=+nan\nn3=NAN\nn4=-inf\nn5=+Infinity\nn6=1e-400\nn7=-0\nn8=0x\nn9=0x1.8\nn10=1e+5\nn11= 2.5\n",
	"[A]\nKeywords=a\\;b;c;\nKeywords[de]=x;y\\;z\nK2=\nK2[de]=;\nK3[fr]=a;;\nK3=\\q;x\n",
	"[A]\nk=v\n[B]\n[C]\n#c\n[D]\n\n[E]\n",
	"[A]\nk=v\n[B]\n[A]\nx=y\n[C]\n",
}

func TestParseMatchesGLib(t *testing.T) {
	names := make([]string, len(parseCorpus))
	inputs := make([][]byte, len(parseCorpus))
	for i, s := range parseCorpus {
		names[i] = fmt.Sprintf("corpus[%d]", i)
		inputs[i] = []byte(s)
	}
	compareWithGLib(t, names, inputs)
}

// realFiles returns key files found on the machine and the shared vectors.
// The vectors are required; the system files are whatever is installed.
func realFiles(t testing.TB) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	add := func(path string) {
		data, err := os.ReadFile(path)
		if err == nil {
			files[path] = data
		}
	}
	filepath.WalkDir("/usr/share/applications", func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".desktop") {
			add(p)
		}
		return nil
	})
	for _, pattern := range []string{
		"/usr/share/xdg-desktop-portal/portals/*.portal",
		"/usr/share/xdg-desktop-portal/*portals.conf",
		"/etc/xdg/autostart/*.desktop",
		"/usr/share/xsessions/*.desktop",
		"/usr/share/dbus-1/services/*.service",
		"/usr/share/dbus-1/system-services/*.service",
		"/usr/share/thumbnailers/*.thumbnailer",
	} {
		matches, _ := filepath.Glob(pattern)
		for _, m := range matches {
			add(m)
		}
	}
	shared := sharedDir(t)
	for _, rel := range []string{
		"vectors/ostree/flatpak/hello.flatpakref",
		"vectors/ostree/flatpak/test.flatpakrepo",
		"vectors/ostree/flatpak/installed/app-metadata",
		"vectors/ostree/flatpak/repo/config",
		"vectors/ostree/flatpak/installed/user-repo-config",
	} {
		p := filepath.Join(shared, rel)
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("vector: %v", err)
		}
		files[p] = data
	}
	p := filepath.Join(shared, "docs/specs/flatpak-info.sample")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("vector: %v", err)
	}
	// The sample goes on with other files of the sandbox after the key file.
	if i := bytes.Index(data, []byte("\n# /etc/passwd")); i >= 0 {
		data = data[:i+1]
	}
	files[p] = data
	return files
}

// sharedDir finds shared/ beside the repository root.
func sharedDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("repository root (go.mod) not found")
		}
		dir = parent
	}
	shared := filepath.Join(dir, "..", "shared")
	if _, err := os.Stat(shared); err != nil {
		t.Fatalf("shared/ beside the repository: %v", err)
	}
	return shared
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func TestRealFilesMatchGLib(t *testing.T) {
	files := realFiles(t)
	names := sortedKeys(files)
	inputs := make([][]byte, len(names))
	for i, n := range names {
		inputs[i] = files[n]
	}
	compareWithGLib(t, names, inputs)
}

// TestRealFilesRoundTrip: every real file parses and writes back byte for
// byte, except where GLib itself would not (reported by the GLib test).
func TestRealFilesRoundTrip(t *testing.T) {
	files := realFiles(t)
	identical := 0
	for _, name := range sortedKeys(files) {
		in := files[name]
		f, err := Parse(in)
		if err != nil {
			t.Errorf("Parse(%s) = %v", name, err)
			continue
		}
		if out := f.Bytes(); !bytes.Equal(out, in) {
			t.Errorf("%s: written back differently\n got: %q\nwant: %q", name, out, in)
			continue
		}
		identical++
	}
	t.Logf("%d of %d real files round-trip byte for byte", identical, len(files))
}

// TestEditsMatchGLib applies the same edits with us and GLib and compares
// the written files.
func TestEditsMatchGLib(t *testing.T) {
	base := "# top\n\n[Desktop Entry]\nName=Foo\nName[de]=Föö\nExec=foo %U\n\n# before B\n[B]\nx=1\n\n"
	type tc struct {
		data string
		ops  [][]any
	}
	cases := []tc{
		{base, [][]any{{"set_value", "Desktop Entry", "New", "v"}}},
		{base, [][]any{{"set_value", "B", "New", "v"}}},
		{base, [][]any{{"set_value", "C", "New", "v"}, {"set_value", "C", "Other", "w"}}},
		{"", [][]any{{"set_value", "C", "New", "v"}, {"set_value", "D", "k", "w"}}},
		{"# only\n", [][]any{{"set_value", "C", "New", "v"}}},
		{base, [][]any{{"set_string", "B", "s", "  lead\ttab\\back;semi\nnl\rcr trail "}}},
		{base, [][]any{{"set_string", "B", "s", "\t x"}}},
		{base, [][]any{{"set_string_list", "B", "l", []string{"  a;b", " c", "", ";x", "back\\slash", "\ttab"}}}},
		{base, [][]any{{"set_string_list", "B", "l", []string{}}}},
		{base, [][]any{{"set_locale_string", "Desktop Entry", "Name", "de", "Neu"}, {"set_locale_string", "Desktop Entry", "Name", "fr", "  Nouveau"}}},
		{base, [][]any{{"set_locale_string_list", "Desktop Entry", "Keywords", "de", []string{"a", "b;c"}}}},
		{base, [][]any{{"set_boolean", "B", "t", true}, {"set_boolean", "B", "f", false}}},
		{base, [][]any{{"set_boolean_list", "B", "bl", []bool{true, false, true}}}},
		{base, [][]any{{"set_integer", "B", "i", -42}, {"set_int64", "B", "j", int64(math.MinInt64)}, {"set_uint64", "B", "u", uint64(math.MaxUint64)}}},
		{base, [][]any{{"set_integer_list", "B", "il", []int{1, -2, 3}}}},
		{base, [][]any{{"set_double", "B", "d1", 0.1}, {"set_double", "B", "d2", 1e20}, {"set_double", "B", "d3", -2.5e-300}, {"set_double", "B", "d4", 3.0}, {"set_double", "B", "d5", 123456789.125}}},
		{base, [][]any{{"set_double_list", "B", "dl", []float64{0.5, 1e-7, 100}}}},
		{base, [][]any{{"set_value", "Desktop Entry", "Name", "Bar"}}},
		{base, [][]any{{"remove_key", "Desktop Entry", "Name"}}},
		{base, [][]any{{"remove_group", "Desktop Entry"}}},
		{base, [][]any{{"remove_group", "B"}, {"set_value", "B", "k", "v"}}},
		{"[A]\nk=1\nk=2\n", [][]any{{"set_value", "A", "k", "3"}}},
		{"[A]\nk=1\nk=2\n", [][]any{{"remove_key", "A", "k"}, {"set_value", "A", "k", "4"}}},
		{"[A]\n[B]\n", [][]any{{"set_value", "A", "k", "v"}}},
		{"[A]\n#c\n", [][]any{{"set_value", "A", "k", "v"}}},
	}
	oc := make([]oracleCase, len(cases))
	for i, c := range cases {
		oc[i] = oracleCase{Data: b64([]byte(c.data)), Ops: c.ops}
	}
	res := askGLib(t, oc)
	for i, c := range cases {
		f, err := Parse([]byte(c.data))
		if err != nil {
			t.Fatal(err)
		}
		for _, op := range c.ops {
			if err := apply(f, op); err != nil {
				t.Fatalf("case %d: %v: %v", i, op, err)
			}
		}
		if got, want := f.ToData(), unb64(t, res[i].OpsOut); !bytes.Equal(got, want) {
			t.Errorf("case %d %v:\n got: %q\nwant: %q", i, c.ops, got, want)
		}
	}
}

func apply(f *File, op []any) error {
	s := func(i int) string { return op[i].(string) }
	switch op[0] {
	case "set_value":
		return f.SetValue(s(1), s(2), s(3))
	case "set_string":
		return f.SetString(s(1), s(2), s(3))
	case "set_string_list":
		return f.SetStringList(s(1), s(2), op[3].([]string))
	case "set_locale_string":
		return f.SetLocaleString(s(1), s(2), s(3), s(4))
	case "set_locale_string_list":
		return f.SetLocaleStringList(s(1), s(2), s(3), op[4].([]string))
	case "set_boolean":
		return f.SetBool(s(1), s(2), op[3].(bool))
	case "set_boolean_list":
		return f.SetBoolList(s(1), s(2), op[3].([]bool))
	case "set_integer":
		return f.SetInt(s(1), s(2), op[3].(int))
	case "set_integer_list":
		return f.SetIntList(s(1), s(2), op[3].([]int))
	case "set_int64":
		return f.SetInt64(s(1), s(2), op[3].(int64))
	case "set_uint64":
		return f.SetUint64(s(1), s(2), op[3].(uint64))
	case "set_double":
		return f.SetFloat64(s(1), s(2), op[3].(float64))
	case "set_double_list":
		return f.SetFloat64List(s(1), s(2), op[3].([]float64))
	case "remove_key":
		return f.RemoveKey(s(1), s(2))
	case "remove_group":
		return f.RemoveGroup(s(1))
	}
	return fmt.Errorf("unknown op %v", op[0])
}

func TestLocaleVariantsMatchGLib(t *testing.T) {
	requireGLib(t)
	locales := []string{"de_DE.UTF-8@euro", "de_DE", "de", "de@euro", "de.UTF-8", "sr_RS@latin", "C", "", "_DE", "de_DE.", "a.b_c@d", "x@y.z", "en_US.ISO-8859-1"}
	in, _ := json.Marshal(locales)
	out, err := exec.Command(python, "-c", `
import json, sys, gi
gi.require_version("GLib", "2.0")
from gi.repository import GLib
print(json.dumps([list(GLib.get_locale_variants(l)) for l in json.loads(sys.argv[1])]))
`, string(in)).Output()
	if err != nil {
		t.Fatal(err)
	}
	var want [][]string
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatal(err)
	}
	for i, l := range locales {
		if diff := cmp.Diff(LocaleVariants(l), want[i]); diff != "" {
			t.Errorf("LocaleVariants(%q) (-got +glib):\n%s", l, diff)
		}
	}
}

// randomKeyFile builds a small key file from fragments that exercise the
// corners of the syntax, most of them valid.
func randomKeyFile(r *rand.Rand) []byte {
	pick := func(s []string) string { return s[r.IntN(len(s))] }
	// One line in 20 draws from the invalid fragments.
	either := func(valid, invalid []string) string {
		if r.IntN(20) == 0 {
			return pick(invalid)
		}
		return pick(valid)
	}
	groups := []string{"[A]", "[B]", "[Desktop Entry]", " [A] ", "[A]\t", "[a b]", "[ü]"}
	badGroups := []string{"[]", "[x[y]", "[C]x", "[D", "[a\x01]"}
	keys := []string{"k", "k", "Name", "Name[de]", "Name[de_DE@euro]", "Name[sr@latin]", "Exec", "a b", " k ", "ä", "Encoding", "Name[ü]"}
	badKeys := []string{"k[", "k]", "x[de]y", "[k", "k[d e]"}
	eqs := []string{"=", "=", " = ", "=  ", "\t=\t", "=="}
	vals := []string{"a", " ", `\s`, `\;`, ";", `\`, `\n`, `\q`, "true", "1", "-5", "1.5", "nan", "ü", "\t", "x y", "UTF-8", "0x10", "99999999999", "\r"}
	others := []string{"#x", "", "  ", "  # y", "\t", "#"}
	badOthers := []string{"junk", "=v", "\x00"}
	ends := []string{"\n", "\n", "\n", "\r\n"}
	var b strings.Builder
	if r.IntN(8) > 0 {
		b.WriteString(pick(groups[:3]) + "\n")
	}
	for n := 2 + r.IntN(10); n > 0; n-- {
		switch x := r.IntN(10); {
		case x < 2:
			b.WriteString(either(groups, badGroups))
		case x < 4:
			b.WriteString(either(others, badOthers))
		default:
			b.WriteString(either(keys, badKeys) + pick(eqs))
			for m := r.IntN(4); m > 0; m-- {
				b.WriteString(pick(vals))
			}
		}
		b.WriteString(pick(ends))
	}
	return []byte(b.String())
}

func TestRandomMatchesGLib(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const n = 3000
	names := make([]string, n)
	inputs := make([][]byte, n)
	for i := range inputs {
		names[i] = fmt.Sprintf("random[%d]", i)
		inputs[i] = randomKeyFile(r)
	}
	compareWithGLib(t, names, inputs)
}
