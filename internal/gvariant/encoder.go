package gvariant

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Encoder serialises one value by appending, without building a tree: it
// aligns each member, zero-fills padding and writes framing offsets when a
// container ends. Begin a container with Begin, write its children in order
// with the scalar methods, Value or nested Begin/End, and close it with End.
// Misuse (a child of the wrong type, too few or too many members) panics:
// it is a programming error, like Array with a mistyped element.
//
// The zero Encoder is ready to use; Reset reuses its buffers.
type Encoder struct {
	buf    []byte
	base   int // start of the value being built in buf
	frames []frame
	offs   []int // framing offsets of all open containers, stacked
	root   *typeInfo
	done   bool
}

type frame struct {
	t       *typeInfo
	start   int // position of the container's first byte in buf
	n       int // children written so far
	offBase int // index in Encoder.offs where this frame's offsets start
	child   *typeInfo
}

// Reset discards the state and makes the encoder append to dst.
func (e *Encoder) Reset(dst []byte) {
	e.buf = dst
	e.base = len(dst)
	e.frames = e.frames[:0]
	e.offs = e.offs[:0]
	e.root = nil
	e.done = false
}

// Bytes returns the buffer: the dst given to Reset followed by the
// serialised value. Call it after the outermost End.
func (e *Encoder) Bytes() []byte {
	if !e.done || len(e.frames) > 0 {
		panic("gvariant: Encoder.Bytes before the value is complete")
	}
	return e.buf
}

// Finish returns the completed value. It shares the encoder's buffer: call
// Reset with a nil dst before building another value with this encoder.
func (e *Encoder) Finish() Value {
	b := e.Bytes()
	return Value{e.root, b[e.base:len(b):len(b)]}
}

// next checks that a child of type t may be written now, aligns the buffer
// for it and returns the expected child type info.
func (e *Encoder) next(t *typeInfo, kind byte) *typeInfo {
	var want *typeInfo
	if len(e.frames) == 0 {
		if e.done {
			panic("gvariant: Encoder: value already complete")
		}
		if e.root == nil {
			if t == nil {
				t = basicInfo[kind]
			}
			e.root = t
		}
		want = e.root
	} else {
		f := &e.frames[len(e.frames)-1]
		switch f.t.kind {
		case '(', '{':
			if f.n >= len(f.t.members) {
				panic(fmt.Sprintf("gvariant: Encoder: too many members for %s", f.t.str))
			}
			want = f.t.members[f.n]
		case 'a':
			want = f.t.elem
		case 'm':
			if f.n > 0 {
				panic("gvariant: Encoder: maybe holds one value")
			}
			want = f.t.elem
		case 'v':
			if f.n > 0 {
				panic("gvariant: Encoder: variant holds one value")
			}
			if f.child == nil {
				if t == nil {
					t = basicInfo[kind]
				}
				f.child = t
			}
			want = f.child
		}
	}
	if t != nil {
		if !sameType(t, want) {
			panic(fmt.Sprintf("gvariant: Encoder: got %s, want %s", t.str, want.str))
		}
	} else if want.kind != kind {
		panic(fmt.Sprintf("gvariant: Encoder: got %c, want %s", kind, want.str))
	}
	for (len(e.buf)-e.base)&(want.align-1) != 0 {
		e.buf = append(e.buf, 0)
	}
	return want
}

// wrote records the end of a child of type t in the current container.
func (e *Encoder) wrote(t *typeInfo) {
	if len(e.frames) == 0 {
		e.done = true
		return
	}
	f := &e.frames[len(e.frames)-1]
	switch f.t.kind {
	case '(', '{':
		if t.fixed == 0 && f.n != len(f.t.members)-1 {
			e.offs = append(e.offs, len(e.buf)-f.start)
		}
	case 'a':
		if t.fixed == 0 {
			e.offs = append(e.offs, len(e.buf)-f.start)
		}
	}
	f.n++
}

// Begin opens a container (array, tuple, dict entry, maybe or variant) of
// type t as the next child, or as the root if nothing was written yet. For a
// variant, the first child written decides the boxed type.
func (e *Encoder) Begin(t Type) {
	ti := t.ti
	if ti == nil || ti.kind != 'a' && ti.kind != '(' && ti.kind != '{' && ti.kind != 'm' && ti.kind != 'v' {
		panic("gvariant: Encoder.Begin of non-container type " + t.String())
	}
	e.next(ti, 0)
	e.frames = append(e.frames, frame{t: ti, start: len(e.buf), offBase: len(e.offs)})
}

// End closes the innermost open container.
func (e *Encoder) End() {
	if len(e.frames) == 0 {
		panic("gvariant: Encoder.End without Begin")
	}
	f := e.frames[len(e.frames)-1]
	e.frames = e.frames[:len(e.frames)-1]
	offs := e.offs[f.offBase:]
	switch f.t.kind {
	case '(', '{':
		if f.n != len(f.t.members) {
			panic(fmt.Sprintf("gvariant: Encoder: %d of %d members written for %s", f.n, len(f.t.members), f.t.str))
		}
		if f.t.fixed > 0 {
			for len(e.buf)-f.start < f.t.fixed {
				e.buf = append(e.buf, 0)
			}
		} else if len(offs) > 0 {
			k := OffsetWidth(uint64(len(e.buf)-f.start), len(offs))
			for i := len(offs) - 1; i >= 0; i-- {
				e.buf = appendOffset(e.buf, offs[i], k)
			}
		}
	case 'a':
		if len(offs) > 0 {
			k := OffsetWidth(uint64(len(e.buf)-f.start), len(offs))
			for _, o := range offs {
				e.buf = appendOffset(e.buf, o, k)
			}
		}
	case 'm':
		if f.n > 0 && f.t.elem.fixed == 0 {
			e.buf = append(e.buf, 0)
		}
	case 'v':
		if f.n != 1 {
			panic("gvariant: Encoder: empty variant")
		}
		e.buf = append(e.buf, 0)
		e.buf = append(e.buf, f.child.str...)
	}
	e.offs = e.offs[:f.offBase]
	e.wrote(f.t)
}

// Value writes an existing value as the next child.
func (e *Encoder) Value(v Value) {
	if v.t == nil {
		panic("gvariant: Encoder.Value of zero Value")
	}
	t := e.next(v.t, 0)
	e.buf = append(e.buf, v.data...)
	e.wrote(t)
}

// Bool writes a "b".
func (e *Encoder) Bool(b bool) {
	t := e.next(nil, 'b')
	if b {
		e.buf = append(e.buf, 1)
	} else {
		e.buf = append(e.buf, 0)
	}
	e.wrote(t)
}

// Byte writes a "y".
func (e *Encoder) Byte(b byte) {
	t := e.next(nil, 'y')
	e.buf = append(e.buf, b)
	e.wrote(t)
}

// Int16 writes an "n".
func (e *Encoder) Int16(n int16) {
	t := e.next(nil, 'n')
	e.buf = binary.LittleEndian.AppendUint16(e.buf, uint16(n))
	e.wrote(t)
}

// Uint16 writes a "q".
func (e *Encoder) Uint16(n uint16) {
	t := e.next(nil, 'q')
	e.buf = binary.LittleEndian.AppendUint16(e.buf, n)
	e.wrote(t)
}

// Int32 writes an "i".
func (e *Encoder) Int32(n int32) { e.u32('i', uint32(n)) }

// Uint32 writes a "u".
func (e *Encoder) Uint32(n uint32) { e.u32('u', n) }

// Handle writes an "h".
func (e *Encoder) Handle(n int32) { e.u32('h', uint32(n)) }

func (e *Encoder) u32(kind byte, n uint32) {
	t := e.next(nil, kind)
	e.buf = binary.LittleEndian.AppendUint32(e.buf, n)
	e.wrote(t)
}

// Int64 writes an "x".
func (e *Encoder) Int64(n int64) { e.u64('x', uint64(n)) }

// Uint64 writes a "t".
func (e *Encoder) Uint64(n uint64) { e.u64('t', n) }

// Double writes a "d".
func (e *Encoder) Double(f float64) { e.u64('d', math.Float64bits(f)) }

func (e *Encoder) u64(kind byte, n uint64) {
	t := e.next(nil, kind)
	e.buf = binary.LittleEndian.AppendUint64(e.buf, n)
	e.wrote(t)
}

// String writes an "s". It panics like the String constructor on invalid
// strings.
func (e *Encoder) String(s string) {
	if err := CheckString(s); err != nil {
		panic(err)
	}
	t := e.next(nil, 's')
	e.buf = append(e.buf, s...)
	e.buf = append(e.buf, 0)
	e.wrote(t)
}

// ObjectPath writes an "o".
func (e *Encoder) ObjectPath(s string) {
	if !isObjectPath(s) {
		panic(fmt.Sprintf("gvariant: invalid object path %q", s))
	}
	t := e.next(nil, 'o')
	e.buf = append(e.buf, s...)
	e.buf = append(e.buf, 0)
	e.wrote(t)
}

// Signature writes a "g".
func (e *Encoder) Signature(s string) {
	if !isSignature(s) {
		panic(fmt.Sprintf("gvariant: invalid signature %q", s))
	}
	t := e.next(nil, 'g')
	e.buf = append(e.buf, s...)
	e.buf = append(e.buf, 0)
	e.wrote(t)
}

// ByteArray writes an "ay" holding b (one append, no per-byte work).
func (e *Encoder) ByteArray(b []byte) {
	t := e.next(tAY.ti, 0)
	e.buf = append(e.buf, b...)
	e.wrote(t)
}
