package gvdb

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/porthole-dev/porthole/internal/gvariant"
)

// vectors are GVDB files written by the real tools and, for the same
// calls, by porthole-permission-store (testdata/gen.sh).
var vectors = []string{
	"xdg-permission-store-one.gvdb",
	"xdg-permission-store-many.gvdb",
	"xdg-permission-store-empty.gvdb",
	"gschemas.compiled",
	"porthole-permission-store-one.gvdb",
	"porthole-permission-store-many.gvdb",
	"porthole-permission-store-empty.gvdb",
}

func readVector(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fullName resolves item i's key through its parents (test helper; the
// vectors are well formed).
func (t *Table) fullName(i uint32) string {
	it := t.item(i)
	k, _ := t.key(it)
	if it.parent == noParent {
		return string(k)
	}
	return t.fullName(it.parent) + string(k)
}

// cloneTable rebuilds a parsed table with the writer, keeping the file's
// item order: items are inserted in reverse file order and keepOrder makes
// that the iteration order, which the writer turns back into file order
// within each bucket, so a gvdb-written file must come out byte-identical.
func cloneTable(tb testing.TB, t *Table) *HashTable {
	tb.Helper()
	h := NewHashTable()
	h.keepOrder = true
	for i := int(t.nItems) - 1; i >= 0; i-- {
		it := t.item(uint32(i))
		name := t.fullName(uint32(i))
		switch it.typ {
		case TypeValue:
			typ, val, err := t.RawValue(name)
			if err != nil {
				tb.Fatalf("RawValue(%q): %v", name, err)
			}
			h.SetRaw(name, typ, val)
		case TypeTable:
			sub, ok := t.Table(name)
			if !ok {
				tb.Fatalf("Table(%q) not found", name)
			}
			w := h.put(name)
			w.typ, w.table = TypeTable, cloneTable(tb, sub)
		default:
			h.Insert(name)
		}
	}
	for i := uint32(0); i < t.nItems; i++ {
		if it := t.item(i); it.parent != noParent {
			if err := h.SetParent(t.fullName(i), t.fullName(it.parent)); err != nil {
				tb.Fatal(err)
			}
		}
	}
	return h
}

func TestRoundTripByteIdentical(t *testing.T) {
	for _, name := range vectors {
		t.Run(name, func(t *testing.T) {
			data := readVector(t, name)
			tbl, err := Open(data)
			if err != nil {
				t.Fatal(err)
			}
			got := cloneTable(t, tbl).Bytes()
			if !bytes.Equal(got, data) {
				t.Errorf("rewritten file differs from %s (%d vs %d bytes); first difference at %d",
					name, len(got), len(data), firstDiff(got, data))
			}
		})
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func TestReadPermissionStoreVector(t *testing.T) {
	root, err := Open(readVector(t, "xdg-permission-store-many.gvdb"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := sorted(root.Names()), []string{"apps", "main"}; !slices.Equal(got, want) {
		t.Errorf("root Names() = %q, want %q", got, want)
	}
	main, ok := root.Table("main")
	if !ok {
		t.Fatal(`Table("main") not found`)
	}
	want := []string{"doc1", "doc2", "empty-perms", "notifications"}
	if got := sorted(main.Names()); !slices.Equal(got, want) {
		t.Errorf("main Names() = %q, want %q", got, want)
	}
	for _, id := range want {
		typ, _, err := main.RawValue(id)
		if err != nil || typ != "(va{sas})" {
			t.Errorf("main.RawValue(%q) = %q, %v; want (va{sas})", id, typ, err)
		}
	}
	if _, _, err := main.RawValue("value-only"); !errors.Is(err, ErrNotFound) {
		t.Errorf("RawValue(deleted id) error = %v, want ErrNotFound", err)
	}
	apps, _ := root.Table("apps")
	wantApps := []string{"org.example.A", "org.example.B", "org.example.D"}
	if got := sorted(apps.Names()); !slices.Equal(got, wantApps) {
		t.Errorf("apps Names() = %q, want %q (an app with only empty permissions is not listed)", got, wantApps)
	}
	typ, val, err := apps.RawValue("org.example.A")
	if err != nil || typ != "as" {
		t.Fatalf("apps.RawValue = %q, %v", typ, err)
	}
	// "as" in normal form: "doc1\0notifications\0" + 1-byte offsets 5, 19.
	if want := []byte("doc1\x00notifications\x00\x05\x13"); !bytes.Equal(val, want) {
		t.Errorf("apps value = %q, want %q", val, want)
	}
	// Wrong item type and missing tables.
	if _, ok := root.Table("apps/"); ok {
		t.Error(`Table("apps/") found`)
	}
	if _, _, err := root.RawValue("main"); !errors.Is(err, ErrNotFound) {
		t.Errorf(`RawValue("main") (a table) error = %v, want ErrNotFound`, err)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func TestGSchemasParentsAndLists(t *testing.T) {
	root, err := Open(readVector(t, "gschemas.compiled"))
	if err != nil {
		t.Fatal(err)
	}
	names := root.Names()
	if len(names) == 0 {
		t.Fatal("no schemas")
	}
	var tables, lists int
	for _, n := range names {
		if sub, ok := root.Table(n); ok {
			tables++
			for _, k := range sub.Names() {
				if kids, ok := sub.List(k); ok {
					lists++
					for _, kid := range kids {
						if _, _, err := sub.RawValue(k + kid); err != nil {
							if _, ok := sub.List(k + kid); !ok {
								t.Errorf("%s: child %q of %q not readable: %v", n, kid, k, err)
							}
						}
					}
				}
			}
		}
	}
	if tables == 0 {
		t.Errorf("no nested tables among %d names", len(names))
	}
	t.Logf("%d schemas, %d list items", tables, lists)
}

func TestWriterBasics(t *testing.T) {
	h := NewHashTable()
	h.SetRaw("b", "b", []byte{1})
	h.SetRaw("s", "s", []byte("hi\x00"))
	sub := h.SetTable("t")
	sub.SetRaw("x", "u", []byte{1, 0, 0, 0})
	h.Insert("/a/")
	h.SetRaw("/a/k", "y", []byte{7})
	if err := h.SetParent("/a/k", "/a/"); err != nil {
		t.Fatal(err)
	}
	h.SetRaw("b", "b", []byte{0}) // replace keeps position
	data := h.Bytes()

	root, err := Open(data)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"/a/", "/a/k", "b", "s", "t"}, sorted(root.Names())); diff != "" {
		t.Errorf("Names() (-want +got):\n%s", diff)
	}
	for _, c := range []struct {
		key, typ string
		val      []byte
	}{{"b", "b", []byte{0}}, {"s", "s", []byte("hi\x00")}, {"/a/k", "y", []byte{7}}} {
		typ, val, err := root.RawValue(c.key)
		if err != nil || typ != c.typ || !bytes.Equal(val, c.val) {
			t.Errorf("RawValue(%q) = %q, %q, %v; want %q, %q", c.key, typ, val, err, c.typ, c.val)
		}
	}
	kids, ok := root.List("/a/")
	if !ok || !slices.Equal(kids, []string{"k"}) {
		t.Errorf(`List("/a/") = %q, %v; want ["k"]`, kids, ok)
	}
	st, ok := root.Table("t")
	if !ok {
		t.Fatal(`Table("t") missing`)
	}
	if typ, _, err := st.RawValue("x"); err != nil || typ != "u" {
		t.Errorf(`t.RawValue("x") = %q, %v`, typ, err)
	}
	// Deterministic output.
	if again := h.Bytes(); !bytes.Equal(again, data) {
		t.Error("Bytes() not deterministic")
	}
	// An empty table is a valid file.
	empty, err := Open(NewHashTable().Bytes())
	if err != nil || empty.Len() != 0 {
		t.Errorf("empty table: %v, %d items", err, empty.Len())
	}
}

func TestSetParentErrors(t *testing.T) {
	h := NewHashTable()
	h.SetRaw("ab", "b", []byte{1})
	h.Insert("a")
	h.Insert("x")
	for _, c := range [][2]string{{"ab", "zz"}, {"ab", "x"}, {"a", "ab"}, {"a", "a"}} {
		if err := h.SetParent(c[0], c[1]); err == nil {
			t.Errorf("SetParent(%q, %q) = nil, want an error", c[0], c[1])
		}
	}
	if err := h.SetParent("ab", "a"); err != nil {
		t.Fatal(err)
	}
	if err := h.SetParent("ab", "a"); err == nil {
		t.Error("linking twice succeeded")
	}
}

func TestOpenErrors(t *testing.T) {
	good := readVector(t, "xdg-permission-store-one.gvdb")
	if _, err := Open(good[:23]); !errors.Is(err, ErrInvalid) {
		t.Errorf("Open(short) error = %v, want ErrInvalid", err)
	}
	bad := slices.Clone(good)
	bad[0] = 'X'
	if _, err := Open(bad); !errors.Is(err, ErrInvalid) {
		t.Errorf("Open(bad signature) error = %v, want ErrInvalid", err)
	}
	bad = slices.Clone(good)
	bad[8] = 1
	if _, err := Open(bad); !errors.Is(err, ErrInvalid) {
		t.Errorf("Open(version 1) error = %v, want ErrInvalid", err)
	}
	// A root pointer out of range gives an empty table, as in gvdb.
	bad = slices.Clone(good)
	le.PutUint32(bad[20:], uint32(len(bad)+1))
	tbl, err := Open(bad)
	if err != nil || tbl.Len() != 0 {
		t.Errorf("Open(root out of range) = %d items, %v; want empty table", tbl.Len(), err)
	}
	// Byteswapped: structure readable, values refused.
	sw := slices.Clone(good)
	le.PutUint32(sw[0:], swap32(signature0))
	le.PutUint32(sw[4:], swap32(signature1))
	tbl, err = Open(sw)
	if err != nil || !tbl.Byteswapped() {
		t.Fatalf("Open(byteswapped) = %v, swapped %v", err, tbl != nil && tbl.Byteswapped())
	}
	apps, _ := tbl.Table("apps")
	if _, _, err := apps.RawValue("org.example.App"); !errors.Is(err, ErrByteswapped) {
		t.Errorf("RawValue on byteswapped file error = %v, want ErrByteswapped", err)
	}
}

func TestBloomFilter(t *testing.T) {
	// A table with one bloom word: keys whose bits are not all set are
	// rejected before the buckets are consulted.
	h := NewHashTable()
	h.SetRaw("k", "y", []byte{1})
	plain := h.Bytes()
	root, _ := Open(plain)
	start := le.Uint32(plain[16:])
	// Rebuild the hash block with one bloom word inserted after its header.
	var b []byte
	b = append(b, plain[:start]...)
	hdr := plain[start : start+8]
	b = append(b, hdr...)
	le.PutUint32(b[start:], 5<<27|1)
	hv := Hash("k")
	word := uint32(1)<<(hv&31) | uint32(1)<<((hv>>5)&31)
	b = le.AppendUint32(b, word)
	b = append(b, plain[start+8:]...)
	end := le.Uint32(plain[20:]) + 4
	le.PutUint32(b[20:], end)
	// Item pointers moved by 4 bytes: fix key and value pointers.
	it := b[start+8+4+4:]
	le.PutUint32(it[8:], le.Uint32(it[8:])+4)
	// value must stay 8-aligned: shift it by 4 more bytes of padding.
	vs, ve := le.Uint32(it[16:])+4, le.Uint32(it[20:])+4
	b = append(b[:vs], append([]byte{0, 0, 0, 0}, b[vs:]...)...)
	le.PutUint32(it[16:], vs+4)
	le.PutUint32(it[20:], ve+4)

	tbl, err := Open(b)
	if err != nil {
		t.Fatal(err)
	}
	if typ, val, err := tbl.RawValue("k"); err != nil || typ != "y" || !bytes.Equal(val, []byte{1}) {
		t.Errorf("RawValue(k) with bloom = %q %q %v (plain table: %d items)", typ, val, err, root.Len())
	}
	if !tbl.bloom(hv) || tbl.bloom(hv^0x1) && tbl.bloom(hv^0x2) && tbl.bloom(hv^0x4) {
		t.Error("bloom filter does not discriminate")
	}
}

func TestHash(t *testing.T) {
	// Values of GLib's g_str_hash (same function); the last uses a byte
	// above 0x7f, which GLib adds as a negative number.
	for _, c := range []struct {
		s    string
		want uint32
	}{{"", 5381}, {"a", 177670}, {"main", 2090499946}, {"\xff", 177572}} {
		if got := Hash(c.s); got != c.want {
			t.Errorf("Hash(%q) = %d, want %d", c.s, got, c.want)
		}
	}
}

func TestValueAndSetValue(t *testing.T) {
	h := NewHashTable()
	want := gvariant.Tuple(gvariant.Variant(gvariant.Byte(0)), gvariant.Array(gvariant.MustType("{sas}")))
	h.SetValue("k", want)
	tbl, err := Open(h.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	got, err := tbl.Value("k")
	if err != nil || !got.Equal(want) {
		t.Errorf("Value(k) = %v, %v; want %v", got, err, want)
	}
	if _, err := tbl.Value("missing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Value(missing) error = %v, want ErrNotFound", err)
	}
	// Stored bytes that are not in normal form are refused.
	h = NewHashTable()
	h.SetRaw("b", "b", []byte{2})
	tbl, _ = Open(h.Bytes())
	if _, err := tbl.Value("b"); !errors.Is(err, ErrInvalid) {
		t.Errorf("Value(bad boolean) error = %v, want ErrInvalid", err)
	}
}
