package permissions

// Table is a string-keyed map that iterates in the order a GLib 2.74
// GHashTable with g_str_hash would. Flatpak writes its contexts by
// iterating such tables, so reproducing the order makes our files
// byte-identical. The zero value is not usable; use newTable.
type Table[V any] struct {
	shift             uint
	size, mod, mask   uint32
	nnodes, noccupied uint32
	hashes            []uint32
	keys              []string
	vals              []V
}

// Hash slot states, as in GLib.
const (
	slotUnused    = 0
	slotTombstone = 1
	minShift      = 3
)

var primeMod = [...]uint32{1, 2, 3, 7, 13, 31, 61, 127, 251, 509, 1021, 2039, 4093,
	8191, 16381, 32749, 65521, 131071, 262139, 524287, 1048573, 2097143, 4194301,
	8388593, 16777213, 33554393, 67108859, 134217689, 268435399, 536870909,
	1073741789, 2147483647}

func newTable[V any]() *Table[V] {
	t := &Table[V]{}
	t.setup()
	return t
}

func (t *Table[V]) setup() {
	t.setShift(minShift)
	t.hashes = make([]uint32, t.size)
	t.keys = make([]string, t.size)
	t.vals = make([]V, t.size)
	t.nnodes, t.noccupied = 0, 0
}

func (t *Table[V]) setShift(shift uint) {
	t.shift = shift
	t.size = 1 << shift
	t.mod = primeMod[shift]
	t.mask = t.size - 1
}

// strHash is g_str_hash: djb2 over signed chars.
func strHash(s string) uint32 {
	h := uint32(5381)
	for i := 0; i < len(s); i++ {
		h = h<<5 + h + uint32(int32(int8(s[i])))
	}
	return h
}

func (t *Table[V]) lookup(key string) (uint32, uint32) {
	h := strHash(key)
	if h < 2 {
		h = 2
	}
	idx := (h * 11) % t.mod
	var tomb uint32
	haveTomb := false
	step := uint32(0)
	for t.hashes[idx] != slotUnused {
		if t.hashes[idx] == h && t.keys[idx] == key {
			return idx, h
		}
		if t.hashes[idx] == slotTombstone && !haveTomb {
			tomb, haveTomb = idx, true
		}
		step++
		idx = (idx + step) & t.mask
	}
	if haveTomb {
		return tomb, h
	}
	return idx, h
}

// Len returns the number of entries.
func (t *Table[V]) Len() int {
	if t == nil {
		return 0
	}
	return int(t.nnodes)
}

// Get returns the value for key.
func (t *Table[V]) Get(key string) (V, bool) {
	var zero V
	if t == nil {
		return zero, false
	}
	idx, _ := t.lookup(key)
	if t.hashes[idx] >= 2 {
		return t.vals[idx], true
	}
	return zero, false
}

// Set inserts or replaces key (g_hash_table_insert).
func (t *Table[V]) Set(key string, v V) {
	idx, h := t.lookup(key)
	old := t.hashes[idx]
	if old >= 2 {
		t.vals[idx] = v
		return
	}
	t.hashes[idx], t.keys[idx], t.vals[idx] = h, key, v
	t.nnodes++
	if old == slotUnused {
		t.noccupied++
		t.maybeResize()
	}
}

// Delete removes key (g_hash_table_remove).
func (t *Table[V]) Delete(key string) {
	idx, _ := t.lookup(key)
	if t.hashes[idx] < 2 {
		return
	}
	var zero V
	t.hashes[idx], t.keys[idx], t.vals[idx] = slotTombstone, "", zero
	t.nnodes--
	t.maybeResize()
}

// Clear removes every entry (g_hash_table_remove_all on a table with
// destroy functions, which reallocates the minimal storage).
func (t *Table[V]) Clear() {
	if t.nnodes == 0 {
		t.maybeResize()
		return
	}
	t.setup()
	t.maybeResize()
}

// Range calls f for each entry in GLib iteration order.
func (t *Table[V]) Range(f func(key string, v V)) {
	if t == nil {
		return
	}
	for i, h := range t.hashes {
		if h >= 2 {
			f(t.keys[i], t.vals[i])
		}
	}
}

// Keys returns the keys in iteration order.
func (t *Table[V]) Keys() []string {
	var out []string
	t.Range(func(k string, _ V) { out = append(out, k) })
	return out
}

// Clone returns a copy with the same layout, hence the same order.
func (t *Table[V]) Clone() *Table[V] {
	c := *t
	c.hashes = append([]uint32(nil), t.hashes...)
	c.keys = append([]string(nil), t.keys...)
	c.vals = append([]V(nil), t.vals...)
	return &c
}

func (t *Table[V]) maybeResize() {
	if (t.size > t.nnodes*4 && t.size > 1<<minShift) || t.size <= t.noccupied+t.noccupied/16 {
		t.resize()
	}
}

func (t *Table[V]) resize() {
	oldSize := t.size
	n := int32(float64(t.nnodes) * 1.333)
	shift := uint(0)
	for ; n != 0; n >>= 1 {
		shift++
	}
	t.setShift(max(shift, minShift))
	bitmapSize := oldSize
	if t.size > oldSize {
		t.hashes = append(t.hashes, make([]uint32, t.size-oldSize)...)
		t.keys = append(t.keys, make([]string, t.size-oldSize)...)
		t.vals = append(t.vals, make([]V, t.size-oldSize)...)
		bitmapSize = t.size
	}
	done := make([]bool, bitmapSize)
	var zero V
	for i := uint32(0); i < oldSize; i++ {
		h := t.hashes[i]
		if h < 2 {
			t.hashes[i] = slotUnused
			continue
		}
		if done[i] {
			continue
		}
		t.hashes[i] = slotUnused
		key, val := t.keys[i], t.vals[i]
		t.keys[i], t.vals[i] = "", zero
		for {
			idx := (h * 11) % t.mod
			step := uint32(0)
			for done[idx] {
				step++
				idx = (idx + step) & t.mask
			}
			done[idx] = true
			replaced := t.hashes[idx]
			t.hashes[idx] = h
			if replaced < 2 {
				t.keys[idx], t.vals[idx] = key, val
				break
			}
			h = replaced
			key, t.keys[idx] = t.keys[idx], key
			val, t.vals[idx] = t.vals[idx], val
		}
	}
	if t.size < oldSize {
		t.hashes = t.hashes[:t.size]
		t.keys = t.keys[:t.size]
		t.vals = t.vals[:t.size]
	}
	t.noccupied = t.nnodes
}
