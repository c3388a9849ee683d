package gvariant

import (
	"fmt"
	"sync"
)

// maxDepth is GLib's G_VARIANT_MAX_RECURSION_DEPTH: the deepest nesting of
// containers a type string may have, and the deepest a value may be nested
// (counting variants) before GLib stops calling it normal.
const maxDepth = 128

// Type is a definite GVariant type. The zero Type is invalid. Types returned
// by ParseType are shared and immutable; compare them with Equal (or their
// strings).
type Type struct{ ti *typeInfo }

// typeInfo is the parsed, precomputed form of one type string.
type typeInfo struct {
	str     string
	kind    byte        // first character of str: b y n q i u x t h d s o g v m a ( {
	elem    *typeInfo   // m, a
	members []*typeInfo // ( {
	fixed   int         // fixed serialised size, 0 if variable-size
	align   int         // alignment in bytes: 1, 2, 4 or 8
	depth   int         // GLib's type depth: basic 1, container 1+max(children), () 0
	// nOffsets is the number of framing offsets a tuple or dict entry
	// carries: one per variable-size member except a variable-size last one.
	nOffsets int
	// trivial: fixed-size and every byte pattern of that size is normal
	// (no booleans, no padding, no unit tuples), so arrays of it need only a
	// size check.
	trivial bool
}

// interned caches parsed types by string. It is bounded so that hostile
// input (variants carrying random type strings) cannot grow it forever.
var (
	internMu sync.RWMutex
	interned = map[string]*typeInfo{}
)

const maxInterned = 4096

// ParseType parses a single complete definite GVariant type string (b y n q i
// u x t h d s o g v, m*, a*, (...), {kv} with a basic key). Indefinite types
// (r, *, ?) are rejected. Nesting is limited to 128 containers, like GLib.
func ParseType(s string) (Type, error) {
	internMu.RLock()
	ti := interned[s]
	internMu.RUnlock()
	if ti != nil {
		return Type{ti}, nil
	}
	ti, rest, err := parseType(s, maxDepth)
	if err != nil {
		return Type{}, fmt.Errorf("%w: type string %q: %v", ErrInvalidType, s, err)
	}
	if rest != "" {
		return Type{}, fmt.Errorf("%w: type string %q: trailing %q after a complete type", ErrInvalidType, s, rest)
	}
	return Type{ti}, nil
}

// MustType is ParseType for literals: it panics if s is not a valid type.
func MustType(s string) Type {
	t, err := ParseType(s)
	if err != nil {
		panic(err)
	}
	return t
}

// intern returns the shared info for ti's type string, registering ti if
// there is none yet (and room), so that equal types are usually the same
// pointer and sameType is one comparison.
func intern(ti *typeInfo) *typeInfo {
	internMu.Lock()
	defer internMu.Unlock()
	if old := interned[ti.str]; old != nil {
		return old
	}
	if len(interned) < maxInterned {
		interned[ti.str] = ti
	}
	return ti
}

// parseTypeBytes is ParseType for a type string in serialised data (a
// variant's), without allocating when the type is cached.
func parseTypeBytes(b []byte) (*typeInfo, error) {
	if len(b) == 1 && basicInfo[b[0]] != nil {
		return basicInfo[b[0]], nil
	}
	internMu.RLock()
	ti := interned[string(b)]
	internMu.RUnlock()
	if ti != nil {
		return ti, nil
	}
	t, err := ParseType(string(b))
	return t.ti, err
}

// typeOfBytes is parseTypeBytes for type strings known to be valid.
func typeOfBytes(b []byte) *typeInfo {
	ti, err := parseTypeBytes(b)
	if err != nil {
		panic("gvariant: internal error: " + err.Error())
	}
	return ti
}

// lookupType returns the cached info for a type string that is known to be
// valid (built from valid parts), parsing it if needed.
func lookupType(s string) *typeInfo {
	t, err := ParseType(s)
	if err != nil {
		panic("gvariant: internal error: " + err.Error())
	}
	return t.ti
}

// basicInfo holds the types of one character (basic types and v), indexed
// by that character.
var basicInfo = makeBasicInfo()

func makeBasicInfo() *[256]*typeInfo {
	var bi [256]*typeInfo
	for _, b := range []struct {
		c     byte
		size  int
		align int
	}{
		{'b', 1, 1}, {'y', 1, 1}, {'n', 2, 2}, {'q', 2, 2}, {'i', 4, 4}, {'u', 4, 4},
		{'h', 4, 4}, {'x', 8, 8}, {'t', 8, 8}, {'d', 8, 8},
		{'s', 0, 1}, {'o', 0, 1}, {'g', 0, 1}, {'v', 0, 8},
	} {
		ti := &typeInfo{str: string(b.c), kind: b.c, fixed: b.size, align: b.align, depth: 1}
		ti.trivial = b.size > 0 && b.c != 'b'
		bi[b.c] = ti
		interned[ti.str] = ti
	}
	return &bi
}

func isBasic(c byte) bool {
	switch c {
	case 'b', 'y', 'n', 'q', 'i', 'u', 'x', 't', 'h', 'd', 's', 'o', 'g':
		return true
	}
	return false
}

// parseType parses one type from the front of s; limit is the remaining
// container nesting allowed (GLib's depth_limit).
func parseType(s string, limit int) (*typeInfo, string, error) {
	if s == "" {
		return nil, s, fmt.Errorf("missing type")
	}
	c := s[0]
	if ti := basicInfo[c]; ti != nil {
		return ti, s[1:], nil
	}
	switch c {
	case 'm', 'a':
		if limit == 0 {
			return nil, s, fmt.Errorf("nested too deeply")
		}
		el, rest, err := parseType(s[1:], limit-1)
		if err != nil {
			return nil, s, err
		}
		// Arrays and maybes are never fixed-size (both may be empty).
		ti := &typeInfo{str: s[:len(s)-len(rest)], kind: c, elem: el, align: el.align, depth: el.depth + 1}
		return intern(ti), rest, nil
	case '(', '{':
		rest := s[1:]
		var members []*typeInfo
		closer := byte(')')
		if c == '{' {
			closer = '}'
			if rest == "" || !isBasic(rest[0]) {
				return nil, s, fmt.Errorf("dict entry key must be a basic type")
			}
		}
		for {
			if rest == "" {
				return nil, s, fmt.Errorf("missing %q", closer)
			}
			if rest[0] == closer {
				rest = rest[1:]
				break
			}
			if limit == 0 {
				return nil, s, fmt.Errorf("nested too deeply")
			}
			m, r, err := parseType(rest, limit-1)
			if err != nil {
				return nil, s, err
			}
			members = append(members, m)
			rest = r
		}
		if c == '{' && len(members) != 2 {
			return nil, s, fmt.Errorf("dict entry must have exactly a key and a value")
		}
		return intern(newTuple(s[:len(s)-len(rest)], c, members)), rest, nil
	case 'r', '*', '?':
		return nil, s, fmt.Errorf("indefinite type %q not allowed", c)
	}
	return nil, s, fmt.Errorf("invalid character %q", c)
}

func newTuple(str string, kind byte, members []*typeInfo) *typeInfo {
	ti := &typeInfo{str: str, kind: kind, members: members, align: 1, trivial: true}
	off, fixed := 0, true
	for i, m := range members {
		ti.align = max(ti.align, m.align)
		ti.depth = max(ti.depth, m.depth+1)
		if alignUp(off, m.align) != off || !m.trivial {
			ti.trivial = false
		}
		off = alignUp(off, m.align)
		if m.fixed == 0 {
			fixed = false
			if i != len(members)-1 {
				ti.nOffsets++
			}
			continue
		}
		off += m.fixed
	}
	if fixed {
		ti.fixed = alignUp(off, ti.align)
		if ti.fixed == 0 {
			ti.fixed = 1 // the unit tuple () is one zero byte
		}
		if ti.fixed != off {
			ti.trivial = false
		}
	} else {
		ti.trivial = false
	}
	return ti
}

func alignUp(n, a int) int { return (n + a - 1) &^ (a - 1) }

// String returns the type string, e.g. "a{sv}".
func (t Type) String() string {
	if t.ti == nil {
		return "<invalid>"
	}
	return t.ti.str
}

// FixedSize returns the serialised size of a fixed-size type and true, or
// 0 and false for variable-size types.
func (t Type) FixedSize() (int, bool) { return t.ti.fixed, t.ti.fixed > 0 }

// Alignment returns the type's alignment in bytes (1, 2, 4 or 8).
func (t Type) Alignment() int { return t.ti.align }

// Equal reports whether t and o are the same type.
func (t Type) Equal(o Type) bool { return sameType(t.ti, o.ti) }

// IsValid reports whether t is a parsed type (not the zero Type).
func (t Type) IsValid() bool { return t.ti != nil }

// Elem returns the element type of an array or maybe type.
func (t Type) Elem() Type {
	if t.ti.elem == nil {
		panic("gvariant: Elem of non-array, non-maybe type " + t.ti.str)
	}
	return Type{t.ti.elem}
}

// NumMembers returns the number of members of a tuple or dict entry type.
func (t Type) NumMembers() int { return len(t.ti.members) }

// Member returns the i-th member type of a tuple or dict entry type.
func (t Type) Member(i int) Type { return Type{t.ti.members[i]} }

func sameType(a, b *typeInfo) bool {
	return a == b || (a != nil && b != nil && a.str == b.str)
}
