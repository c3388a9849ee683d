package gvdb

import (
	"bytes"
	"testing"
)

// FuzzOpen feeds arbitrary bytes to the reader: it must never panic, and
// whatever it can read back through the public API must survive a rewrite
// with the writer unchanged.
func FuzzOpen(f *testing.F) {
	for _, name := range vectors {
		f.Add(readVector(f, name))
	}
	h := NewHashTable()
	h.Insert("p/")
	h.SetRaw("p/x", "s", []byte("v\x00"))
	_ = h.SetParent("p/x", "p/")
	h.SetTable("t").SetRaw("k", "b", []byte{1})
	f.Add(h.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		root, err := Open(data)
		if err != nil {
			return
		}
		budget := 16
		first := copyReadable(root, &budget)
		again, err := Open(first.Bytes())
		if err != nil {
			t.Fatalf("rewritten file does not open: %v", err)
		}
		budget = 1 << 30
		second := copyReadable(again, &budget)
		if !bytes.Equal(first.Bytes(), second.Bytes()) {
			t.Fatal("rewrite of a rewrite differs")
		}
	})
}

// copyReadable copies every value, nested table and list item reachable by
// name into a new writer table (without parent links), visiting at most
// *budget tables: a damaged file can nest a table inside itself.
func copyReadable(t *Table, budget *int) *HashTable {
	h := NewHashTable()
	if *budget <= 0 {
		return h
	}
	*budget--
	for _, name := range sorted(t.Names()) {
		if typ, val, err := t.RawValue(name); err == nil {
			h.SetRaw(name, typ, bytes.Clone(val))
		} else if sub, ok := t.Table(name); ok {
			w := h.put(name)
			w.typ, w.table = TypeTable, copyReadable(sub, budget)
		} else {
			t.List(name)
			h.Insert(name)
		}
	}
	return h
}
