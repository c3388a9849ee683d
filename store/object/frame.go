package object

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"unicode/utf8"
)

// This file is a small, allocation-light serializer for the handful of fixed
// GVariant types ostree objects use. Hot paths (one header per file, one
// dirtree per directory) use it directly; decoding is made strict by
// re-encoding the parsed value and comparing bytes, so only normal form is
// accepted.

// offsetSize returns the framing offset width for a container whose body is
// body bytes and which carries n offsets.
func offsetSize(body, n int) int {
	if n == 0 {
		return 0
	}
	switch {
	case body+n <= 0xff:
		return 1
	case body+2*n <= 0xffff:
		return 2
	case uint64(body)+4*uint64(n) <= 0xffffffff:
		return 4
	}
	return 8
}

// readOffsetSize returns the offset width for a container of total size n.
func readOffsetSize(n int) int {
	switch {
	case n == 0:
		return 0
	case n <= 0xff:
		return 1
	case n <= 0xffff:
		return 2
	case uint64(n) <= 0xffffffff:
		return 4
	}
	return 8
}

func appendOffsets(b []byte, start int, offs []int) []byte {
	k := offsetSize(len(b)-start, len(offs))
	for _, o := range offs {
		switch k {
		case 1:
			b = append(b, byte(o))
		case 2:
			b = binary.LittleEndian.AppendUint16(b, uint16(o))
		case 4:
			b = binary.LittleEndian.AppendUint32(b, uint32(o))
		default:
			b = binary.LittleEndian.AppendUint64(b, uint64(o))
		}
	}
	return b
}

func pad(b []byte, start, align int) []byte {
	for (len(b)-start)%align != 0 {
		b = append(b, 0)
	}
	return b
}

func appendString(b []byte, s string) []byte { return append(append(b, s...), 0) }

// appendXattrs appends an a(ayay) whose names get their trailing NUL.
func appendXattrs(b []byte, xs []Xattr) []byte {
	start := len(b)
	var offs []int
	for _, x := range xs {
		es := len(b)
		b = append(b, x.Name...)
		b = append(b, 0)
		nameEnd := len(b) - es
		b = append(b, x.Value...)
		b = appendOffsets(b, es, []int{nameEnd})
		offs = append(offs, len(b)-start)
	}
	return appendOffsets(b, start, offs)
}

// reader walks a serialized container.
type frame struct {
	data []byte
	k    int
	what string
}

func newFrame(data []byte, what string) frame {
	return frame{data: data, k: readOffsetSize(len(data)), what: what}
}

func (f frame) errorf(format string, args ...any) error {
	return fmt.Errorf("%s: %w: %s", f.what, ErrInvalid, fmt.Sprintf(format, args...))
}

// offsetAt reads the i-th framing offset counted from the end (i=0: last k
// bytes).
func (f frame) offsetAt(i int) (int, error) {
	p := len(f.data) - (i+1)*f.k
	if f.k == 0 || p < 0 {
		return 0, f.errorf("truncated framing offsets")
	}
	var v uint64
	switch f.k {
	case 1:
		v = uint64(f.data[p])
	case 2:
		v = uint64(binary.LittleEndian.Uint16(f.data[p:]))
	case 4:
		v = uint64(binary.LittleEndian.Uint32(f.data[p:]))
	default:
		v = binary.LittleEndian.Uint64(f.data[p:])
	}
	if v > uint64(len(f.data)) {
		return 0, f.errorf("framing offset %d out of range", v)
	}
	return int(v), nil
}

// arrayElems splits an array of variable-size elements with the given
// alignment into its elements.
func (f frame) arrayElems(align int) ([][]byte, error) {
	if len(f.data) == 0 {
		return nil, nil
	}
	last, err := f.offsetAt(0)
	if err != nil {
		return nil, err
	}
	tbl := len(f.data) - last
	if tbl <= 0 || tbl%f.k != 0 {
		return nil, f.errorf("bad framing offset table")
	}
	n := tbl / f.k
	elems := make([][]byte, 0, n)
	prev := 0
	for i := 0; i < n; i++ {
		end, err := f.offsetAt(n - 1 - i)
		if err != nil {
			return nil, err
		}
		start := (prev + align - 1) &^ (align - 1)
		if start > end || end > last {
			return nil, f.errorf("element %d out of range", i)
		}
		elems = append(elems, f.data[start:end])
		prev = end
	}
	return elems, nil
}

// parseString checks a serialized "s": NUL-terminated, no embedded NUL,
// valid UTF-8.
func parseString(b []byte, what string) (string, error) {
	if len(b) == 0 || b[len(b)-1] != 0 {
		return "", fmt.Errorf("%s: %w: string not NUL-terminated", what, ErrInvalid)
	}
	s := b[:len(b)-1]
	if bytes.IndexByte(s, 0) >= 0 {
		return "", fmt.Errorf("%s: %w: string with embedded NUL", what, ErrInvalid)
	}
	if !utf8.Valid(s) {
		return "", fmt.Errorf("%s: %w: string not UTF-8", what, ErrInvalid)
	}
	return string(s), nil
}

// tupleMembers splits a tuple whose members are all alignment-1 and
// variable-size (n members) into its members.
func (f frame) varTuple(n int) ([][]byte, error) {
	out := make([][]byte, n)
	prev := 0
	for i := 0; i < n; i++ {
		var end int
		if i == n-1 {
			end = len(f.data) - (n-1)*f.k
		} else {
			e, err := f.offsetAt(i)
			if err != nil {
				return nil, err
			}
			end = e
		}
		if end < prev || end > len(f.data)-(n-1)*f.k {
			return nil, f.errorf("member %d out of range", i)
		}
		out[i] = f.data[prev:end]
		prev = end
	}
	return out, nil
}

func parseXattrs(b []byte) ([]Xattr, error) {
	elems, err := newFrame(b, "xattrs").arrayElems(1)
	if err != nil {
		return nil, err
	}
	xs := make([]Xattr, 0, len(elems))
	for _, e := range elems {
		m, err := newFrame(e, "xattr").varTuple(2)
		if err != nil {
			return nil, err
		}
		name := m[0]
		if len(name) < 2 || name[len(name)-1] != 0 || bytes.IndexByte(name[:len(name)-1], 0) >= 0 {
			return nil, fmt.Errorf("xattr: %w: name not a NUL-terminated string", ErrInvalid)
		}
		xs = append(xs, Xattr{Name: string(name[:len(name)-1]), Value: bytes.Clone(m[1])})
	}
	return xs, nil
}

func checkXattrs(xs []Xattr) error {
	for i := range xs {
		if xs[i].Name == "" || bytes.IndexByte([]byte(xs[i].Name), 0) >= 0 {
			return fmt.Errorf("xattr %q: %w: bad name", xs[i].Name, ErrInvalid)
		}
	}
	return nil
}
