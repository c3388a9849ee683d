package gvdb

// GLibOrder returns keys in the order a GLib GHashTable with string keys
// (g_str_hash) iterates them after they were inserted in the given order
// without removals; a repeated key keeps the slot of its first insertion.
// It models GLib 2.74's open-addressing table: a power-of-two slot array
// starting at 8 slots, initial slot (hash*11) mod the largest prime below
// the size, quadratic probing, growth to the next power of two above
// 4/3 of the entry count once 15/16 of the slots are used, rehashed in
// place. gvdb's writer walks its input table in this order, so the layout
// of a file gvdb writes follows from it.
func GLibOrder(keys []string) []string {
	g := newGHash()
	for _, k := range keys {
		g.insert(k)
	}
	out := make([]string, 0, g.nnodes)
	for i, h := range g.hashes {
		if h >= 2 {
			out = append(out, g.keys[i])
		}
	}
	return out
}

// primeMod[shift] is the largest prime below 1<<shift (GLib's table).
var primeMod = [...]uint32{
	1, 2, 3, 7, 13, 31, 61, 127, 251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521,
	131071, 262139, 524287, 1048573, 2097143, 4194301, 8388593, 16777213, 33554393,
	67108859, 134217689, 268435399, 536870909, 1073741789, 2147483647,
}

const ghashMinShift = 3

// ghash is the slot layout of a GHashTable: hash 0 marks an unused slot
// (there are no removals, hence no tombstones); real hashes are >= 2.
type ghash struct {
	hashes    []uint32
	keys      []string
	mod, mask uint32
	nnodes    int
	noccupied int
}

func newGHash() *ghash {
	g := &ghash{}
	g.setShift(ghashMinShift)
	g.hashes = make([]uint32, 1<<ghashMinShift)
	g.keys = make([]string, 1<<ghashMinShift)
	return g
}

func (g *ghash) setShift(shift int) {
	g.mod = primeMod[shift]
	g.mask = 1<<shift - 1
}

func (g *ghash) size() int { return int(g.mask) + 1 }

func (g *ghash) home(h uint32) uint32 { return (h * 11) % g.mod }

func (g *ghash) insert(key string) {
	h := Hash(key)
	if h < 2 {
		h = 2
	}
	i := g.home(h)
	for step := uint32(0); g.hashes[i] != 0; {
		if g.hashes[i] == h && g.keys[i] == key {
			return // replacing a value keeps the slot
		}
		step++
		i = (i + step) & g.mask
	}
	g.hashes[i], g.keys[i] = h, key
	g.nnodes++
	g.noccupied++
	if size := g.size(); (size > g.nnodes*4 && size > 1<<ghashMinShift) || size <= g.noccupied+g.noccupied/16 {
		g.resize()
	}
}

// resize rehashes in place as GLib does: slots are visited in order and
// each entry not yet placed is moved to its new slot, evicting (and then
// placing) whatever entry sat there; a bitmap marks placed slots.
func (g *ghash) resize() {
	oldSize := g.size()
	n := int(float64(g.nnodes) * 1.333)
	shift := 0
	for ; n != 0; n >>= 1 {
		shift++
	}
	shift = max(shift, ghashMinShift)
	g.setShift(shift)
	if g.size() > oldSize {
		g.hashes = append(g.hashes, make([]uint32, g.size()-oldSize)...)
		g.keys = append(g.keys, make([]string, g.size()-oldSize)...)
	}
	placed := make([]bool, max(g.size(), oldSize))
	for i := range oldSize {
		h := g.hashes[i]
		if h < 2 {
			g.hashes[i] = 0
			continue
		}
		if placed[i] {
			continue
		}
		g.hashes[i] = 0
		key := g.keys[i]
		g.keys[i] = ""
		for {
			j := g.home(h)
			for step := uint32(0); placed[j]; {
				step++
				j = (j + step) & g.mask
			}
			placed[j] = true
			replaced := g.hashes[j]
			g.hashes[j] = h
			if replaced < 2 {
				g.keys[j] = key
				break
			}
			h = replaced
			key, g.keys[j] = g.keys[j], key
		}
	}
	if g.size() < oldSize {
		g.hashes = g.hashes[:g.size()]
		g.keys = g.keys[:g.size()]
	}
	g.noccupied = g.nnodes
}
