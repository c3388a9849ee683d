package permissionstore

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/porthole-dev/porthole/internal/gvariant"
)

// wireDecoder reads values in D-Bus marshalling (the wire format of a
// message body) straight into GVariant values. Unlike godbus's decoder it
// keeps dictionary entries in the order the caller sent them.
type wireDecoder struct {
	data  []byte
	pos   int
	order binary.ByteOrder
	depth int
}

func (d *wireDecoder) fail(format string, args ...any) error {
	return fmt.Errorf("%w: D-Bus body at %d: %s", ErrInvalidArgument, d.pos, fmt.Sprintf(format, args...))
}

func (d *wireDecoder) align(n int) error {
	p := (d.pos + n - 1) &^ (n - 1)
	if p > len(d.data) {
		return d.fail("truncated")
	}
	d.pos = p
	return nil
}

func (d *wireDecoder) take(n int) ([]byte, error) {
	if n < 0 || d.pos+n > len(d.data) {
		return nil, d.fail("truncated")
	}
	b := d.data[d.pos : d.pos+n]
	d.pos += n
	return b, nil
}

func (d *wireDecoder) fixed(n int) ([]byte, error) {
	if err := d.align(n); err != nil {
		return nil, err
	}
	return d.take(n)
}

func (d *wireDecoder) u32() (uint32, error) {
	b, err := d.fixed(4)
	if err != nil {
		return 0, err
	}
	return d.order.Uint32(b), nil
}

func (d *wireDecoder) str(lenBytes int) (string, error) {
	var n int
	if lenBytes == 1 {
		b, err := d.take(1)
		if err != nil {
			return "", err
		}
		n = int(b[0])
	} else {
		u, err := d.u32()
		if err != nil {
			return "", err
		}
		n = int(u)
	}
	b, err := d.take(n + 1)
	if err != nil {
		return "", err
	}
	if b[n] != 0 {
		return "", d.fail("string without NUL")
	}
	return string(b[:n]), nil
}

var stringTypes = map[byte]gvariant.Type{'s': gvariant.MustType("s"), 'o': gvariant.MustType("o"), 'g': gvariant.MustType("g")}

// stringValue makes an s, o or g value, checking what the constructors
// would panic on (UTF-8, object path and signature syntax).
func stringValue(kind byte, s string) (gvariant.Value, error) {
	v, err := gvariant.Unmarshal(stringTypes[kind], append([]byte(s), 0))
	if err != nil {
		return gvariant.Value{}, fmt.Errorf("%w: %v", ErrInvalidArgument, err)
	}
	return v, nil
}

// alignment of a D-Bus type (by its first character).
func wireAlign(c byte) int {
	switch c {
	case 'y', 'g', 'v':
		return 1
	case 'n', 'q':
		return 2
	case 'x', 't', 'd', '(', '{':
		return 8
	}
	return 4 // b i u h s o a
}

// value decodes one value of type t.
func (d *wireDecoder) value(t gvariant.Type) (gvariant.Value, error) {
	if d.depth > maxDepth {
		return gvariant.Value{}, d.fail("nested too deeply")
	}
	ts := t.String()
	switch ts[0] {
	case 'y':
		b, err := d.take(1)
		if err != nil {
			return gvariant.Value{}, err
		}
		return gvariant.Byte(b[0]), nil
	case 'b':
		u, err := d.u32()
		if err != nil {
			return gvariant.Value{}, err
		}
		if u > 1 {
			return gvariant.Value{}, d.fail("boolean %d", u)
		}
		return gvariant.Bool(u == 1), nil
	case 'n', 'q':
		b, err := d.fixed(2)
		if err != nil {
			return gvariant.Value{}, err
		}
		if ts[0] == 'n' {
			return gvariant.Int16(int16(d.order.Uint16(b))), nil
		}
		return gvariant.Uint16(d.order.Uint16(b)), nil
	case 'i', 'u', 'h':
		u, err := d.u32()
		if err != nil {
			return gvariant.Value{}, err
		}
		switch ts[0] {
		case 'i':
			return gvariant.Int32(int32(u)), nil
		case 'h':
			return gvariant.Handle(int32(u)), nil
		}
		return gvariant.Uint32(u), nil
	case 'x', 't', 'd':
		b, err := d.fixed(8)
		if err != nil {
			return gvariant.Value{}, err
		}
		u := d.order.Uint64(b)
		switch ts[0] {
		case 'x':
			return gvariant.Int64(int64(u)), nil
		case 'd':
			return gvariant.Double(math.Float64frombits(u)), nil
		}
		return gvariant.Uint64(u), nil
	case 's', 'o', 'g':
		lenBytes := 4
		if ts[0] == 'g' {
			lenBytes = 1
		}
		s, err := d.str(lenBytes)
		if err != nil {
			return gvariant.Value{}, err
		}
		return stringValue(ts[0], s)
	case 'v':
		sig, err := d.str(1)
		if err != nil {
			return gvariant.Value{}, err
		}
		inner, err := gvariant.ParseType(sig)
		if err != nil || sig == "" {
			return gvariant.Value{}, d.fail("variant signature %q", sig)
		}
		d.depth++
		v, err := d.value(inner)
		d.depth--
		if err != nil {
			return gvariant.Value{}, err
		}
		return gvariant.Variant(v), nil
	case 'a':
		n, err := d.u32()
		if err != nil {
			return gvariant.Value{}, err
		}
		elem := t.Elem()
		if err := d.align(wireAlign(elem.String()[0])); err != nil {
			return gvariant.Value{}, err
		}
		end := d.pos + int(n)
		if n > 1<<26 || end > len(d.data) {
			return gvariant.Value{}, d.fail("array of %d bytes", n)
		}
		if elem.String() == "y" {
			b, _ := d.take(int(n))
			return gvariant.Bytes(b), nil
		}
		var elems []gvariant.Value
		d.depth++
		for d.pos < end {
			e, err := d.value(elem)
			if err != nil {
				return gvariant.Value{}, err
			}
			elems = append(elems, e)
		}
		d.depth--
		if d.pos != end {
			return gvariant.Value{}, d.fail("array overruns its length")
		}
		return gvariant.Array(elem, elems...), nil
	case '(', '{':
		if err := d.align(8); err != nil {
			return gvariant.Value{}, err
		}
		members := make([]gvariant.Value, t.NumMembers())
		d.depth++
		for i := range members {
			m, err := d.value(t.Member(i))
			if err != nil {
				return gvariant.Value{}, err
			}
			members[i] = m
		}
		d.depth--
		if ts[0] == '{' {
			return gvariant.DictEntry(members[0], members[1]), nil
		}
		return gvariant.Tuple(members...), nil
	}
	return gvariant.Value{}, d.fail("type %s has no D-Bus form", ts)
}

// lastArg decodes a body of signature sig (a sequence of complete types)
// and returns its last value.
func lastArg(body []byte, order binary.ByteOrder, sig string) (gvariant.Value, error) {
	t, err := gvariant.ParseType("(" + sig + ")")
	if err != nil {
		return gvariant.Value{}, fmt.Errorf("%w: signature %q", ErrInvalidArgument, sig)
	}
	d := &wireDecoder{data: body, order: order}
	var last gvariant.Value
	for i := range t.NumMembers() {
		if last, err = d.value(t.Member(i)); err != nil {
			return gvariant.Value{}, err
		}
	}
	return last, nil
}
