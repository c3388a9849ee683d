package permissionstore

import (
	"bytes"
	"os"
	"testing"
)

// FuzzLoadTable feeds arbitrary table files to the loader: it must not
// panic, and a table it loads must encode to a file that loads back to
// the same entries. (The bytes may differ: like upstream, a rewrite lays
// ids out by the order they were read in.)
func FuzzLoadTable(f *testing.F) {
	for _, name := range []string{
		"xdg-permission-store-one.gvdb", "xdg-permission-store-many.gvdb", "xdg-permission-store-empty.gvdb",
		"porthole-permission-store-many.gvdb",
	} {
		b, err := os.ReadFile("../../internal/gvdb/testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tbl, _, err := parseTable("t", "", data)
		if err != nil {
			return
		}
		for _, e := range tbl.entries {
			e.permissionMap()
			toDBusVariant(e.data)
		}
		first := tbl.encode()
		again, skipped, err := parseTable("t", "", first)
		if err != nil || len(skipped) > 0 {
			t.Fatalf("re-encoded table does not load: %v, skipped %v", err, skipped)
		}
		if len(again.entries) != len(tbl.entries) {
			t.Fatalf("%d entries after re-encoding, want %d", len(again.entries), len(tbl.entries))
		}
		for id, e := range tbl.entries {
			a := again.entries[id]
			if a == nil || !bytes.Equal(a.encode().Data(), e.encode().Data()) {
				t.Fatalf("entry %q changed by re-encoding", id)
			}
		}
	})
}
