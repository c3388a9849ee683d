package gvdb

import (
	"bytes"
	"fmt"
)

// Table is a read-only view of one hash table inside a GVDB file. It
// references the file's bytes without copying them; the caller must not
// modify the slice given to Open while any Table from it is in use.
// A Table is safe for concurrent use.
//
// Like gvdb, a Table tolerates damage: pointers that leave the file or are
// misaligned make the affected items unreadable, not the whole file.
type Table struct {
	data        []byte
	byteswapped bool

	bloomShift uint32
	nBloom     uint32
	bloomOff   int
	nBuckets   uint32
	bucketsOff int
	nItems     uint32
	itemsOff   int
}

// Open parses the header of a GVDB file and returns its root table. It
// fails with ErrInvalid only when the header is wrong; a root pointer that
// does not describe a hash table yields an empty table, as in gvdb.
func Open(data []byte) (*Table, error) {
	if len(data) < headerSize {
		return nil, fmt.Errorf("%w: %d bytes is shorter than the header", ErrInvalid, len(data))
	}
	s0, s1, version := le.Uint32(data[0:]), le.Uint32(data[4:]), le.Uint32(data[8:])
	t := &Table{data: data}
	switch {
	case s0 == signature0 && s1 == signature1 && version == 0:
	case s0 == swap32(signature0) && s1 == swap32(signature1) && version == 0:
		t.byteswapped = true
	default:
		return nil, fmt.Errorf("%w: bad signature or version", ErrInvalid)
	}
	t.setupRoot(le.Uint32(data[16:]), le.Uint32(data[20:]))
	return t, nil
}

func swap32(v uint32) uint32 {
	return v>>24 | (v>>8)&0xff00 | (v<<8)&0xff0000 | v<<24
}

// Byteswapped reports whether the file was written with the other byte order.
func (t *Table) Byteswapped() bool { return t.byteswapped }

// deref resolves a [start, end) pointer, or reports false when it leaves
// the file, is reversed or misaligned.
func (t *Table) deref(start, end uint32, align uint32) ([]byte, bool) {
	if start > end || uint64(end) > uint64(len(t.data)) || start&(align-1) != 0 {
		return nil, false
	}
	return t.data[start:end], true
}

func (t *Table) setupRoot(start, end uint32) {
	hdr, ok := t.deref(start, end, 4)
	if !ok || len(hdr) < hashHeaderSize {
		return
	}
	size := uint64(len(hdr) - hashHeaderSize)
	bloomWord := le.Uint32(hdr[0:])
	nBloom := bloomWord & (1<<27 - 1)
	nBuckets := le.Uint32(hdr[4:])
	if uint64(nBloom)*4 > size {
		return
	}
	t.bloomShift = bloomWord >> 27
	t.nBloom = nBloom
	t.bloomOff = int(start) + hashHeaderSize
	size -= uint64(nBloom) * 4
	if uint64(nBuckets)*4 > size {
		return
	}
	t.nBuckets = nBuckets
	t.bucketsOff = t.bloomOff + int(nBloom)*4
	size -= uint64(nBuckets) * 4
	if size%itemSize != 0 {
		return
	}
	t.itemsOff = t.bucketsOff + int(nBuckets)*4
	t.nItems = uint32(size / itemSize)
}

// item is one decoded hash item.
type item struct {
	hash     uint32
	parent   uint32
	keyStart uint32
	keySize  uint16
	typ      byte
	start    uint32 // value pointer (or the first 4 direct bytes)
	end      uint32
}

func (t *Table) item(i uint32) item {
	b := t.data[t.itemsOff+int(i)*itemSize:]
	return item{
		hash:     le.Uint32(b[0:]),
		parent:   le.Uint32(b[4:]),
		keyStart: le.Uint32(b[8:]),
		keySize:  le.Uint16(b[12:]),
		typ:      b[14],
		start:    le.Uint32(b[16:]),
		end:      le.Uint32(b[20:]),
	}
}

func (t *Table) key(it item) ([]byte, bool) {
	end := uint64(it.keyStart) + uint64(it.keySize)
	if end > uint64(len(t.data)) {
		return nil, false
	}
	return t.data[it.keyStart:end], true
}

func (t *Table) bloom(h uint32) bool {
	if t.nBloom == 0 {
		return true
	}
	word := le.Uint32(t.data[t.bloomOff+int((h/32)%t.nBloom)*4:])
	mask := uint32(1)<<(h&31) | uint32(1)<<((h>>t.bloomShift)&31)
	return word&mask == mask
}

// checkName reports whether item it (with its parent chain) spells key.
// Each step consumes a non-empty suffix of key, so the walk ends even on a
// file whose parent links form a cycle.
func (t *Table) checkName(it item, key string) bool {
	for {
		k, ok := t.key(it)
		if !ok || len(k) > len(key) {
			return false
		}
		rest := key[:len(key)-len(k)]
		if string(k) != key[len(rest):] {
			return false
		}
		if len(rest) == 0 && it.parent == noParent {
			return true
		}
		if it.parent >= t.nItems || len(k) == 0 {
			return false
		}
		it, key = t.item(it.parent), rest
	}
}

func (t *Table) lookup(key string, typ byte) (item, bool) {
	if t.nBuckets == 0 || t.nItems == 0 {
		return item{}, false
	}
	h := Hash(key)
	if !t.bloom(h) {
		return item{}, false
	}
	bucket := h % t.nBuckets
	first := le.Uint32(t.data[t.bucketsOff+int(bucket)*4:])
	last := t.nItems
	if bucket != t.nBuckets-1 {
		if next := le.Uint32(t.data[t.bucketsOff+int(bucket+1)*4:]); next <= t.nItems {
			last = next
		}
	}
	for i := first; i < last; i++ {
		it := t.item(i)
		if it.hash == h && t.checkName(it, key) && it.typ == typ {
			return it, true
		}
	}
	return item{}, false
}

// Len returns the number of items in the table (every item, including
// those without a value).
func (t *Table) Len() int { return int(t.nItems) }

// maxNameLen bounds a full key built from parent links to what one item's
// key can hold, so a damaged file with long keys chained through parents
// cannot make Names allocate quadratically.
const maxNameLen = 1<<16 - 1

// Names returns the full keys of all items in item order. Items whose key
// cannot be resolved (broken pointers, cyclic or dangling parents, full
// keys over 65535 bytes) are left out, as gvdb_table_get_names does
// (except for the length bound).
func (t *Table) Names() []string {
	n := t.nItems
	names := make([]string, n)
	have := make([]bool, n)
	total := uint32(0)
	for {
		filled := uint32(0)
		for i := uint32(0); i < n; i++ {
			if have[i] {
				continue
			}
			it := t.item(i)
			k, ok := t.key(it)
			if !ok {
				continue
			}
			switch {
			case it.parent == noParent:
				names[i] = string(k)
			case it.parent < n && have[it.parent]:
				if len(names[it.parent])+len(k) > maxNameLen {
					continue
				}
				names[i] = names[it.parent] + string(k)
			default:
				continue
			}
			have[i] = true
			filled++
		}
		total += filled
		if filled == 0 || total >= n {
			break
		}
	}
	if total == n {
		return names
	}
	out := make([]string, 0, total)
	for i, ok := range have {
		if ok {
			out = append(out, names[i])
		}
	}
	return out
}

// Table returns the nested hash table stored under key.
func (t *Table) Table(key string) (*Table, bool) {
	it, ok := t.lookup(key, TypeTable)
	if !ok {
		return nil, false
	}
	sub := &Table{data: t.data, byteswapped: t.byteswapped}
	sub.setupRoot(it.start, it.end)
	return sub, true
}

// List returns the stored (relative) keys of the children of the list item
// key; an unreadable child yields "".
func (t *Table) List(key string) ([]string, bool) {
	it, ok := t.lookup(key, TypeList)
	if !ok {
		return nil, false
	}
	b, ok := t.deref(it.start, it.end, 4)
	if !ok || len(b)%4 != 0 {
		return nil, false
	}
	out := make([]string, len(b)/4)
	for i := range out {
		idx := le.Uint32(b[i*4:])
		if idx >= t.nItems {
			continue
		}
		if k, ok := t.key(t.item(idx)); ok {
			out[i] = string(k)
		}
	}
	return out, true
}

// RawValue returns the value stored under key as its GVariant type string
// and serialised bytes (aliasing the file). It fails with ErrNotFound when
// key has no value item, ErrInvalid when the stored variant is unreadable,
// and ErrByteswapped for byteswapped files.
func (t *Table) RawValue(key string) (typ string, value []byte, err error) {
	it, ok := t.lookup(key, TypeValue)
	if !ok {
		return "", nil, fmt.Errorf("%w: %q", ErrNotFound, key)
	}
	if t.byteswapped {
		return "", nil, ErrByteswapped
	}
	b, ok := t.deref(it.start, it.end, 8)
	if !ok {
		return "", nil, fmt.Errorf("%w: value of %q points outside the file", ErrInvalid, key)
	}
	return splitVariant(b, key)
}

// splitVariant splits a serialised "v": the child's bytes, a zero byte,
// then the child's type string (which contains no zero byte).
func splitVariant(b []byte, key string) (string, []byte, error) {
	i := bytes.LastIndexByte(b, 0)
	if i < 0 || i == len(b)-1 {
		return "", nil, fmt.Errorf("%w: value of %q is not a serialised variant", ErrInvalid, key)
	}
	return string(b[i+1:]), b[:i:i], nil
}
