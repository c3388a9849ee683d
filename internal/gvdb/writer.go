package gvdb

import (
	"fmt"
	"strings"
)

// HashTable is a hash table being built for a GVDB file. Keys keep the
// position of their first insertion; setting a key again replaces its item
// in place. A HashTable is not safe for concurrent use. As in gvdb, a
// stored key (the part after its parent's key) records its length in 16
// bits, so keys must be shorter than 64 KiB.
//
// Layout: gvdb's writer takes the items of its input GHashTable in
// iteration order and prepends each to its bucket's chain, so within one
// bucket items appear in reverse iteration order. HashTable derives that
// iteration order from the insertion order with GLibOrder, so inserting
// the same keys in the same order as a program does through
// gvdb_hash_table_insert gives a byte-identical file.
type HashTable struct {
	items []*witem
	byKey map[string]*witem
	// keepOrder uses the insertion order itself as the iteration order,
	// to reproduce the layout of a parsed file (tests).
	keepOrder bool
}

type witem struct {
	key      string
	typ      byte // 0 (bare), TypeValue, TypeTable or TypeList
	vtype    string
	value    []byte
	table    *HashTable
	parent   *witem
	children []*witem // sorted by key
	index    uint32
}

// NewHashTable returns an empty table.
func NewHashTable() *HashTable {
	return &HashTable{byKey: make(map[string]*witem)}
}

// Len returns the number of items.
func (h *HashTable) Len() int { return len(h.items) }

func (h *HashTable) put(key string) *witem {
	if it, ok := h.byKey[key]; ok {
		if it.parent != nil || len(it.children) > 0 {
			// Keep links: a replaced item keeps its place in the tree.
			*it = witem{key: key, parent: it.parent, children: it.children}
		} else {
			*it = witem{key: key}
		}
		return it
	}
	it := &witem{key: key}
	h.items = append(h.items, it)
	h.byKey[key] = it
	return it
}

// SetRaw stores a value under key: typ is its GVariant type string and
// value its serialised bytes in normal form (as gvariant.Marshal returns).
// The file stores them as a variant ("v"). value is not copied.
func (h *HashTable) SetRaw(key, typ string, value []byte) {
	it := h.put(key)
	it.typ, it.vtype, it.value = TypeValue, typ, value
}

// SetTable stores a new, empty nested table under key and returns it.
func (h *HashTable) SetTable(key string) *HashTable {
	it := h.put(key)
	it.typ, it.table = TypeTable, NewHashTable()
	return it.table
}

// Insert adds a bare item (no value) under key unless key exists. Bare
// items serve as parents for SetParent.
func (h *HashTable) Insert(key string) {
	if _, ok := h.byKey[key]; !ok {
		h.put(key)
	}
}

// SetParent links child below parent: the file then stores only the part
// of child's key after parent's key, and parent becomes a list item
// enumerating its children in key order. Both keys must exist, parent's
// key must be a prefix of child's, parent must hold no value or table, and
// child must not have a parent yet.
func (h *HashTable) SetParent(child, parent string) error {
	c, p := h.byKey[child], h.byKey[parent]
	switch {
	case c == nil || p == nil:
		return fmt.Errorf("cannot link %q below %q: %w", child, parent, ErrNotFound)
	case !strings.HasPrefix(child, parent) || child == parent:
		return fmt.Errorf("cannot link %q below %q: not a key prefix", child, parent)
	case p.typ == TypeValue || p.typ == TypeTable:
		return fmt.Errorf("cannot link %q below %q: parent holds a value", child, parent)
	case c.parent != nil:
		return fmt.Errorf("cannot link %q below %q: already linked", child, parent)
	}
	for a := p; a != nil; a = a.parent {
		if a == c {
			return fmt.Errorf("cannot link %q below %q: cycle", child, parent)
		}
	}
	i := 0
	for i < len(p.children) && p.children[i].key <= child {
		i++
	}
	p.children = append(p.children, nil)
	copy(p.children[i+1:], p.children[i:])
	p.children[i] = c
	p.typ = TypeList
	c.parent = p
	return nil
}

// Bytes serialises the table as the root of a GVDB file.
func (h *HashTable) Bytes() []byte {
	b := &fileBuilder{buf: make([]byte, headerSize, 4096)}
	start, end := b.addHash(h)
	le.PutUint32(b.buf[0:], signature0)
	le.PutUint32(b.buf[4:], signature1)
	// version and options stay 0
	le.PutUint32(b.buf[16:], start)
	le.PutUint32(b.buf[20:], end)
	return b.buf
}

type fileBuilder struct{ buf []byte }

// alloc appends size zero bytes at the next multiple of align (padding
// with zeros) and returns their [start, end).
func (b *fileBuilder) alloc(align, size int) (uint32, uint32) {
	for len(b.buf)%align != 0 {
		b.buf = append(b.buf, 0)
	}
	start := len(b.buf)
	b.buf = append(b.buf, make([]byte, size)...)
	return uint32(start), uint32(len(b.buf))
}

func (b *fileBuilder) addHash(h *HashTable) (uint32, uint32) {
	n := len(h.items)
	iter := h.items
	if !h.keepOrder && n > 1 {
		keys := make([]string, n)
		for i, it := range h.items {
			keys[i] = it.key
		}
		iter = iter[:0:0]
		for _, k := range GLibOrder(keys) {
			iter = append(iter, h.byKey[k])
		}
	}
	chains := make([][]*witem, n)
	for _, it := range iter {
		bk := Hash(it.key) % uint32(n)
		chains[bk] = append(chains[bk], it)
	}
	order := make([]*witem, 0, n)
	firsts := make([]uint32, n)
	for bk, chain := range chains {
		firsts[bk] = uint32(len(order))
		for i := len(chain) - 1; i >= 0; i-- {
			chain[i].index = uint32(len(order))
			order = append(order, chain[i])
		}
	}

	start, end := b.alloc(4, hashHeaderSize+n*4+n*itemSize)
	le.PutUint32(b.buf[start:], defaultBloomShift<<27)
	le.PutUint32(b.buf[start+4:], uint32(n))
	for i, f := range firsts {
		le.PutUint32(b.buf[int(start)+hashHeaderSize+i*4:], f)
	}
	itemsOff := int(start) + hashHeaderSize + n*4

	for i, it := range order {
		var e [itemSize]byte
		le.PutUint32(e[0:], Hash(it.key))
		parent, name := uint32(noParent), it.key
		if it.parent != nil {
			parent, name = it.parent.index, it.key[len(it.parent.key):]
		}
		le.PutUint32(e[4:], parent)
		le.PutUint32(e[8:], uint32(len(b.buf)))
		le.PutUint16(e[12:], uint16(len(name)))
		b.buf = append(b.buf, name...)
		e[14] = it.typ
		var ps, pe uint32
		switch it.typ {
		case TypeValue:
			ps, pe = b.alloc(8, len(it.value)+1+len(it.vtype))
			copy(b.buf[ps:], it.value)
			copy(b.buf[int(ps)+len(it.value)+1:], it.vtype)
		case TypeList:
			ps, pe = b.alloc(4, 4*len(it.children))
			for j, c := range it.children {
				le.PutUint32(b.buf[int(ps)+4*j:], c.index)
			}
		case TypeTable:
			ps, pe = b.addHash(it.table)
		}
		le.PutUint32(e[16:], ps)
		le.PutUint32(e[20:], pe)
		copy(b.buf[itemsOff+i*itemSize:], e[:])
	}
	return start, end
}
