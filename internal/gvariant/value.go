package gvariant

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"
)

// ErrInvalid is wrapped by every error about serialised data that is not a
// GVariant in normal form of the expected type.
var ErrInvalid = errors.New("gvariant: invalid serialised data")

// ErrInvalidType is wrapped by errors about malformed type strings.
var ErrInvalidType = errors.New("gvariant: invalid type string")

// Value is an immutable GVariant value. It is a view: a type plus the value's
// serialised bytes in normal form, so child access, Marshal and Equal cost no
// decoding. The zero Value is invalid; its methods panic.
type Value struct {
	t    *typeInfo
	data []byte
}

var (
	byteValues [256][]byte
	falseData  = []byte{0}
	trueData   = []byte{1}
)

func init() {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
		byteValues[i] = all[i : i+1 : i+1]
	}
}

// Bool returns a "b" value.
func Bool(b bool) Value {
	if b {
		return Value{basicInfo['b'], trueData}
	}
	return Value{basicInfo['b'], falseData}
}

// Byte returns a "y" value.
func Byte(b byte) Value { return Value{basicInfo['y'], byteValues[b]} }

// Int16 returns an "n" value.
func Int16(n int16) Value {
	return Value{basicInfo['n'], binary.LittleEndian.AppendUint16(nil, uint16(n))}
}

// Uint16 returns a "q" value.
func Uint16(n uint16) Value {
	return Value{basicInfo['q'], binary.LittleEndian.AppendUint16(nil, n)}
}

// Int32 returns an "i" value.
func Int32(n int32) Value {
	return Value{basicInfo['i'], binary.LittleEndian.AppendUint32(nil, uint32(n))}
}

// Uint32 returns a "u" value.
func Uint32(n uint32) Value {
	return Value{basicInfo['u'], binary.LittleEndian.AppendUint32(nil, n)}
}

// Handle returns an "h" value.
func Handle(n int32) Value {
	return Value{basicInfo['h'], binary.LittleEndian.AppendUint32(nil, uint32(n))}
}

// Int64 returns an "x" value.
func Int64(n int64) Value {
	return Value{basicInfo['x'], binary.LittleEndian.AppendUint64(nil, uint64(n))}
}

// Uint64 returns a "t" value.
func Uint64(n uint64) Value {
	return Value{basicInfo['t'], binary.LittleEndian.AppendUint64(nil, n)}
}

// Double returns a "d" value.
func Double(f float64) Value {
	return Value{basicInfo['d'], binary.LittleEndian.AppendUint64(nil, math.Float64bits(f))}
}

// CheckString reports why s cannot be a GVariant string (it must be valid
// UTF-8 without NUL bytes), or nil.
func CheckString(s string) error {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return fmt.Errorf("%w: string has a NUL byte at %d", ErrInvalid, i)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: string is not valid UTF-8", ErrInvalid)
	}
	return nil
}

// String returns an "s" value. It panics if s is not valid UTF-8 or contains
// a NUL byte (see CheckString).
func String(s string) Value {
	if err := CheckString(s); err != nil {
		panic(err)
	}
	return Value{basicInfo['s'], append([]byte(s), 0)}
}

// ObjectPath returns an "o" value. It panics if s is not a valid D-Bus
// object path.
func ObjectPath(s string) Value {
	if !isObjectPath(s) {
		panic(fmt.Sprintf("gvariant: invalid object path %q", s))
	}
	return Value{basicInfo['o'], append([]byte(s), 0)}
}

// Signature returns a "g" value. It panics if s is not a valid D-Bus
// signature (zero or more complete types, no maybe).
func Signature(s string) Value {
	if !isSignature(s) {
		panic(fmt.Sprintf("gvariant: invalid signature %q", s))
	}
	return Value{basicInfo['g'], append([]byte(s), 0)}
}

var (
	tAY = MustType("ay")
	tAS = MustType("as")
)

// Bytes returns an "ay" value holding a copy of b.
func Bytes(b []byte) Value { return Value{tAY.ti, bytes.Clone(b)} }

// Strings returns an "as" value. It panics like String on invalid strings.
func Strings(ss []string) Value {
	var e Encoder
	e.Begin(tAS)
	for _, s := range ss {
		e.String(s)
	}
	e.End()
	return e.Finish()
}

// Array returns an array of elem. It panics if an element's type differs.
func Array(elem Type, elems ...Value) Value {
	el := elem.ti
	at := lookupType("a" + el.str)
	size, n := 0, 0
	for _, v := range elems {
		if !sameType(v.t, el) {
			panic(fmt.Sprintf("gvariant: Array of %s with an element of type %s", el.str, v.Type()))
		}
		size = alignUp(size, el.align) + len(v.data)
		n++
	}
	if el.fixed > 0 {
		n = 0
	}
	k := OffsetWidth(uint64(size), n)
	data := make([]byte, 0, size+n*k)
	for _, v := range elems {
		data = padTo(data, el.align)
		data = append(data, v.data...)
	}
	if n > 0 {
		pos := 0
		for _, v := range elems {
			pos = alignUp(pos, el.align) + len(v.data)
			data = appendOffset(data, pos, k)
		}
	}
	return Value{at, data}
}

func padTo(b []byte, align int) []byte {
	for len(b)&(align-1) != 0 {
		b = append(b, 0)
	}
	return b
}

// Tuple returns a tuple of the members; Tuple() is the unit tuple "()".
func Tuple(members ...Value) Value {
	n := 2
	for _, m := range members {
		n += len(m.t.str)
	}
	ts := make([]byte, 0, n)
	ts = append(ts, '(')
	for _, m := range members {
		ts = append(ts, m.t.str...)
	}
	ts = append(ts, ')')
	t := typeOfBytes(ts)
	return Value{t, serialiseTuple(t, members)}
}

// DictEntry returns a dict entry {key, val}. It panics if key is not of a
// basic type.
func DictEntry(key, val Value) Value {
	if !isBasic(key.t.kind) {
		panic("gvariant: dict entry key of non-basic type " + key.t.str)
	}
	t := lookupType("{" + key.t.str + val.t.str + "}")
	return Value{t, serialiseTuple(t, []Value{key, val})}
}

// serialiseTuple lays out members (of t's member types) in one allocation.
func serialiseTuple(t *typeInfo, members []Value) []byte {
	size := 0
	for i, m := range members {
		size = alignUp(size, t.members[i].align) + len(m.data)
	}
	if t.fixed > 0 {
		size = t.fixed
	}
	k := OffsetWidth(uint64(size), t.nOffsets)
	data := make([]byte, 0, size+t.nOffsets*k)
	var ends [8]int
	offs := ends[:0]
	for i, m := range members {
		data = padTo(data, t.members[i].align)
		data = append(data, m.data...)
		if m.t.fixed == 0 && i != len(members)-1 {
			offs = append(offs, len(data))
		}
	}
	for len(data) < t.fixed {
		data = append(data, 0)
	}
	for i := len(offs) - 1; i >= 0; i-- {
		data = appendOffset(data, offs[i], k)
	}
	return data
}

// Variant boxes v into a "v" value.
func Variant(v Value) Value {
	data := make([]byte, 0, len(v.data)+1+len(v.t.str))
	data = append(data, v.data...)
	data = append(data, 0)
	data = append(data, v.t.str...)
	return Value{basicInfo['v'], data}
}

// Nothing returns the empty maybe of element type elem.
func Nothing(elem Type) Value { return Value{lookupType("m" + elem.ti.str), nil} }

// Just returns the maybe holding v.
func Just(v Value) Value {
	mt := lookupType("m" + v.t.str)
	if v.t.fixed > 0 {
		return Value{mt, v.data}
	}
	data := make([]byte, len(v.data)+1)
	copy(data, v.data)
	return Value{mt, data}
}

// Type returns v's type.
func (v Value) Type() Type { return Type{v.t} }

// IsValid reports whether v is a value (not the zero Value).
func (v Value) IsValid() bool { return v.t != nil }

// Data returns v's serialised bytes in normal form. The slice aliases v's
// storage (for values from UnmarshalAlias, the caller's buffer): do not
// modify it.
func (v Value) Data() []byte { return v.data }

func (v Value) want(c byte, what string) {
	if v.t == nil {
		panic("gvariant: " + what + " of zero Value")
	}
	if v.t.kind != c {
		panic("gvariant: " + what + " of value of type " + v.t.str)
	}
}

// Bool returns the value of a "b".
func (v Value) Bool() bool { v.want('b', "Bool"); return v.data[0] != 0 }

// Byte returns the value of a "y".
func (v Value) Byte() byte { v.want('y', "Byte"); return v.data[0] }

// Int16 returns the value of an "n".
func (v Value) Int16() int16 { v.want('n', "Int16"); return int16(binary.LittleEndian.Uint16(v.data)) }

// Uint16 returns the value of a "q".
func (v Value) Uint16() uint16 { v.want('q', "Uint16"); return binary.LittleEndian.Uint16(v.data) }

// Int32 returns the value of an "i".
func (v Value) Int32() int32 { v.want('i', "Int32"); return int32(binary.LittleEndian.Uint32(v.data)) }

// Uint32 returns the value of a "u".
func (v Value) Uint32() uint32 { v.want('u', "Uint32"); return binary.LittleEndian.Uint32(v.data) }

// Handle returns the value of an "h".
func (v Value) Handle() int32 {
	v.want('h', "Handle")
	return int32(binary.LittleEndian.Uint32(v.data))
}

// Int64 returns the value of an "x".
func (v Value) Int64() int64 { v.want('x', "Int64"); return int64(binary.LittleEndian.Uint64(v.data)) }

// Uint64 returns the value of a "t".
func (v Value) Uint64() uint64 { v.want('t', "Uint64"); return binary.LittleEndian.Uint64(v.data) }

// Double returns the value of a "d".
func (v Value) Double() float64 {
	v.want('d', "Double")
	return math.Float64frombits(binary.LittleEndian.Uint64(v.data))
}

// Str returns the contents of an "s", "o" or "g".
func (v Value) Str() string { return string(v.StrBytes()) }

// StrBytes returns the contents of an "s", "o" or "g" without the NUL and
// without copying (do not modify).
func (v Value) StrBytes() []byte {
	if v.t == nil || (v.t.kind != 's' && v.t.kind != 'o' && v.t.kind != 'g') {
		v.want('s', "Str")
	}
	return v.data[:len(v.data)-1]
}

// ByteSlice returns the contents of an "ay". It aliases v's storage: do not
// modify it.
func (v Value) ByteSlice() []byte {
	if v.t == nil || v.t.kind != 'a' || v.t.elem.kind != 'y' {
		panic("gvariant: ByteSlice of value of type " + v.Type().String())
	}
	return v.data
}

// StringSlice returns the contents of an "as".
func (v Value) StringSlice() []string {
	if v.t == nil || v.t.kind != 'a' || v.t.elem.kind != 's' {
		panic("gvariant: StringSlice of value of type " + v.Type().String())
	}
	n := v.Len()
	out := make([]string, n)
	for i := range out {
		out[i] = v.Index(i).Str()
	}
	return out
}

// Len returns the number of children: elements of an array, members of a
// tuple or dict entry, 0 or 1 for a maybe, 1 for a variant.
func (v Value) Len() int {
	if v.t == nil {
		panic("gvariant: Len of zero Value")
	}
	switch v.t.kind {
	case 'a':
		if v.t.elem.fixed > 0 {
			return len(v.data) / v.t.elem.fixed
		}
		if len(v.data) == 0 {
			return 0
		}
		k := offsetSize(len(v.data))
		last := readOffset(v.data[len(v.data)-k:], k)
		return (len(v.data) - last) / k
	case '(', '{':
		return len(v.t.members)
	case 'm':
		if len(v.data) > 0 {
			return 1
		}
		return 0
	case 'v':
		return 1
	}
	panic("gvariant: Len of value of type " + v.t.str)
}

// Index returns the i-th child of an array, tuple, dict entry, maybe (Just)
// or variant. It does not copy: the child shares v's storage. It panics if i
// is out of range.
func (v Value) Index(i int) Value {
	if v.t == nil {
		panic("gvariant: Index of zero Value")
	}
	switch v.t.kind {
	case 'a':
		el := v.t.elem
		if el.fixed > 0 {
			if i < 0 || (i+1)*el.fixed > len(v.data) {
				panic(fmt.Sprintf("gvariant: index %d out of range", i))
			}
			return Value{el, v.data[i*el.fixed : (i+1)*el.fixed]}
		}
		start, end := arrayChild(v.data, el.align, i)
		return Value{el, v.data[start:end]}
	case '(', '{':
		start, end := tupleChild(v.t, v.data, i)
		return Value{v.t.members[i], v.data[start:end]}
	case 'm':
		if i != 0 || len(v.data) == 0 {
			panic(fmt.Sprintf("gvariant: index %d out of range", i))
		}
		if v.t.elem.fixed > 0 {
			return Value{v.t.elem, v.data}
		}
		return Value{v.t.elem, v.data[:len(v.data)-1]}
	case 'v':
		if i != 0 {
			panic(fmt.Sprintf("gvariant: index %d out of range", i))
		}
		return v.Unbox()
	}
	panic("gvariant: Index of value of type " + v.t.str)
}

// arrayChild returns the byte range of the i-th element of a valid
// variable-size array.
func arrayChild(data []byte, align, i int) (int, int) {
	if len(data) == 0 {
		panic(fmt.Sprintf("gvariant: index %d out of range", i))
	}
	k := offsetSize(len(data))
	offs := readOffset(data[len(data)-k:], k)
	n := (len(data) - offs) / k
	if i < 0 || i >= n {
		panic(fmt.Sprintf("gvariant: index %d out of range", i))
	}
	start := 0
	if i > 0 {
		start = alignUp(readOffset(data[offs+(i-1)*k:], k), align)
	}
	return start, readOffset(data[offs+i*k:], k)
}

// tupleChild returns the byte range of member i of a valid tuple.
func tupleChild(t *typeInfo, data []byte, i int) (int, int) {
	if i < 0 || i >= len(t.members) {
		panic(fmt.Sprintf("gvariant: index %d out of range", i))
	}
	k := offsetSize(len(data))
	offPtr := len(data)
	pos := 0
	for j, m := range t.members {
		pos = alignUp(pos, m.align)
		var end int
		switch {
		case m.fixed > 0:
			end = pos + m.fixed
		case j == len(t.members)-1:
			end = len(data) - t.nOffsets*k
		default:
			offPtr -= k
			end = readOffset(data[offPtr:], k)
		}
		if j == i {
			return pos, end
		}
		pos = end
	}
	panic("unreachable")
}

// Unbox returns the child of a variant.
func (v Value) Unbox() Value {
	v.want('v', "Unbox")
	sep := bytes.LastIndexByte(v.data, 0)
	return Value{typeOfBytes(v.data[sep+1:]), v.data[:sep]}
}

// Lookup finds key in a dictionary with string keys (a{s*}, also o and g
// keys) by linear scan, returning the first match. For a{sv} it returns the
// unboxed variant child.
func (v Value) Lookup(key string) (Value, bool) {
	if v.t == nil || v.t.kind != 'a' || v.t.elem.kind != '{' {
		panic("gvariant: Lookup in value of type " + v.Type().String())
	}
	kt := v.t.elem.members[0].kind
	if kt != 's' && kt != 'o' && kt != 'g' {
		panic("gvariant: Lookup in value of type " + v.t.str)
	}
	n := v.Len()
	for i := 0; i < n; i++ {
		e := v.Index(i)
		ks, ke := tupleChild(e.t, e.data, 0)
		if string(e.data[ks:ke-1]) == key {
			val := e.Index(1)
			if val.t.kind == 'v' {
				val = val.Unbox()
			}
			return val, true
		}
	}
	return Value{}, false
}

// Equal reports whether v and o have the same type and value (compared as
// serialised bytes, like g_variant_equal).
func (v Value) Equal(o Value) bool {
	return sameType(v.t, o.t) && bytes.Equal(v.data, o.data)
}

// offsetSize is the framing-offset width of a container of total size n.
func offsetSize(n int) int {
	switch {
	case n == 0:
		return 0
	case n <= math.MaxUint8:
		return 1
	case n <= math.MaxUint16:
		return 2
	case uint64(n) <= math.MaxUint32:
		return 4
	}
	return 8
}

// OffsetWidth returns the framing-offset width GLib uses for a container
// whose body (children and padding) is body bytes and which has n framing
// offsets: the smallest of 1, 2, 4, 8 such that the total size fits.
func OffsetWidth(body uint64, n int) int {
	if n == 0 {
		return 0
	}
	u := uint64(n)
	switch {
	case body+u <= math.MaxUint8:
		return 1
	case body+2*u <= math.MaxUint16:
		return 2
	case body+4*u <= math.MaxUint32:
		return 4
	}
	return 8
}

func readOffset(b []byte, k int) int {
	switch k {
	case 1:
		return int(b[0])
	case 2:
		return int(binary.LittleEndian.Uint16(b))
	case 4:
		return int(binary.LittleEndian.Uint32(b))
	case 8:
		u := binary.LittleEndian.Uint64(b)
		if u > math.MaxInt {
			return math.MaxInt
		}
		return int(u)
	}
	return 0
}

func appendOffset(b []byte, off, k int) []byte {
	switch k {
	case 1:
		return append(b, byte(off))
	case 2:
		return binary.LittleEndian.AppendUint16(b, uint16(off))
	case 4:
		return binary.LittleEndian.AppendUint32(b, uint32(off))
	}
	return binary.LittleEndian.AppendUint64(b, uint64(off))
}

// Marshal returns v serialised in normal form (a fresh copy).
func Marshal(v Value) []byte { return bytes.Clone(v.data) }

// AppendMarshal appends v's normal-form serialisation to dst.
func AppendMarshal(dst []byte, v Value) []byte { return append(dst, v.data...) }

// Unmarshal parses data as a value of type t, accepting only GVariant normal
// form (what ostree requires). The returned Value holds a copy of data.
// Errors wrap ErrInvalid and name the byte offset and the rule broken.
func Unmarshal(t Type, data []byte) (Value, error) {
	v, err := UnmarshalAlias(t, data)
	if err != nil {
		return Value{}, err
	}
	v.data = bytes.Clone(data)
	if v.data == nil {
		v.data = []byte{}
	}
	return v, nil
}

// UnmarshalAlias is Unmarshal without the copy: the Value and every value
// derived from it alias data, which must not be modified afterwards. Use it
// on hot paths (reading objects by the million).
func UnmarshalAlias(t Type, data []byte) (Value, error) {
	if t.ti == nil {
		return Value{}, fmt.Errorf("%w: zero Type", ErrInvalidType)
	}
	if err := validate(t.ti, data, 0, 0); err != nil {
		return Value{}, err
	}
	return Value{t.ti, data}, nil
}
