package gvariant

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// validate checks that data is the normal-form serialisation of a value of
// type t, following GLib's g_variant_serialised_is_normal rule for rule.
// at is data's offset in the outermost buffer (for error messages), depth
// the nesting depth (the outermost value is 0).
func validate(t *typeInfo, data []byte, at, depth int) error {
	if depth >= maxDepth {
		return invalid(at, t, "nested more than %d deep", maxDepth)
	}
	if t.fixed > 0 && len(data) != t.fixed {
		return invalid(at, t, "size %d, want fixed size %d", len(data), t.fixed)
	}
	switch t.kind {
	case 'y', 'n', 'q', 'i', 'u', 'h', 'x', 't', 'd':
		return nil
	case 'b':
		if data[0] > 1 {
			return invalid(at, t, "boolean byte 0x%02x is not 0 or 1", data[0])
		}
		return nil
	case 's':
		return validateString(data, at, t)
	case 'o':
		if err := validateString(data, at, t); err != nil {
			return err
		}
		if !isObjectPath(string(data[:len(data)-1])) {
			return invalid(at, t, "invalid object path %q", data[:len(data)-1])
		}
		return nil
	case 'g':
		if err := validateString(data, at, t); err != nil {
			return err
		}
		if !isSignature(string(data[:len(data)-1])) {
			return invalid(at, t, "invalid signature %q", data[:len(data)-1])
		}
		return nil
	case 'm':
		if len(data) == 0 {
			return nil
		}
		el := t.elem
		if el.fixed > 0 {
			if len(data) != el.fixed {
				return invalid(at, t, "Just of size %d, want %d", len(data), el.fixed)
			}
			return validate(el, data, at, depth+1)
		}
		if data[len(data)-1] != 0 {
			return invalid(at+len(data)-1, t, "Just of a variable-size value must end with a 0x00 byte")
		}
		return validate(el, data[:len(data)-1], at, depth+1)
	case 'a':
		return validateArray(t, data, at, depth)
	case '(', '{':
		return validateTuple(t, data, at, depth)
	case 'v':
		return validateVariant(data, at, depth)
	}
	return invalid(at, t, "unknown type")
}

// quirkEmptyTuple marks the one place where Unmarshal is stricter than
// g_variant_is_normal_form.
const quirkEmptyTuple = "GLib writes them"

func invalid(at int, t *typeInfo, format string, args ...any) error {
	return fmt.Errorf("%w: at byte %d (%s): %s", ErrInvalid, at, t.str, fmt.Sprintf(format, args...))
}

func validateString(data []byte, at int, t *typeInfo) error {
	if len(data) == 0 {
		return invalid(at, t, "empty string data (no NUL terminator)")
	}
	if data[len(data)-1] != 0 {
		return invalid(at+len(data)-1, t, "string not NUL-terminated")
	}
	body := data[:len(data)-1]
	if i := bytes.IndexByte(body, 0); i >= 0 {
		return invalid(at+i, t, "string has an embedded NUL")
	}
	if !utf8.Valid(body) {
		return invalid(at, t, "string is not valid UTF-8")
	}
	return nil
}

func validateArray(t *typeInfo, data []byte, at, depth int) error {
	el := t.elem
	if el.fixed > 0 {
		if len(data)%el.fixed != 0 {
			return invalid(at, t, "size %d is not a multiple of element size %d", len(data), el.fixed)
		}
		if len(data) == 0 {
			return nil
		}
		if el.trivial {
			if depth+1 >= maxDepth {
				return invalid(at, t, "nested more than %d deep", maxDepth)
			}
			return nil
		}
		for off := 0; off < len(data); off += el.fixed {
			if err := validate(el, data[off:off+el.fixed], at+off, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if len(data) == 0 {
		return nil
	}
	k := offsetSize(len(data))
	if k > len(data) {
		return invalid(at, t, "too short for a framing offset")
	}
	last := readOffset(data[len(data)-k:], k)
	if last > len(data) {
		return invalid(at+len(data)-k, t, "last framing offset %d beyond the end (%d)", last, len(data))
	}
	tbl := len(data) - last
	if tbl%k != 0 {
		return invalid(at+last, t, "framing offset table of %d bytes is not a multiple of %d", tbl, k)
	}
	n := tbl / k
	if n == 0 {
		return invalid(at, t, "non-empty array without framing offsets")
	}
	if OffsetWidth(uint64(last), n) != k {
		return invalid(at, t, "framing offsets of %d bytes are not of minimal width", k)
	}
	pos := 0
	for i := 0; i < n; i++ {
		end := readOffset(data[last+i*k:], k)
		if end < pos || end > last {
			return invalid(at+last+i*k, t, "framing offset %d of element %d out of order or range", end, i)
		}
		for pos&(el.align-1) != 0 {
			if pos >= end || data[pos] != 0 {
				return invalid(at+pos, t, "bad padding before element %d", i)
			}
			pos++
		}
		if err := validate(el, data[pos:end], at+pos, depth+1); err != nil {
			return err
		}
		pos = end
	}
	return nil
}

func validateTuple(t *typeInfo, data []byte, at, depth int) error {
	if len(data) == 0 && t.nOffsets > 0 {
		// GLib 2.74's is_normal accepts this (offsets of width 0 read as
		// 0), but GLib itself always writes the framing offsets, so the
		// bytes could not round-trip: reject it as not canonical.
		return invalid(at, t, "empty, but framing offsets are required (%s)", quirkEmptyTuple)
	}
	k := offsetSize(len(data))
	offPtr := len(data)
	pos := 0
	for i, m := range t.members {
		for pos&(m.align-1) != 0 {
			if pos >= len(data) || data[pos] != 0 {
				return invalid(at+pos, t, "bad padding before member %d", i)
			}
			pos++
		}
		var end int
		switch {
		case m.fixed > 0:
			end = pos + m.fixed
		case i == len(t.members)-1:
			end = offPtr
		default:
			if offPtr < k {
				return invalid(at, t, "too short for the framing offsets")
			}
			offPtr -= k
			if offPtr < pos {
				return invalid(at+offPtr, t, "framing offsets overlap member %d", i)
			}
			end = readOffset(data[offPtr:], k)
		}
		if end < pos || end > offPtr {
			return invalid(at+pos, t, "member %d ends at %d, outside %d..%d", i, end, pos, offPtr)
		}
		if err := validate(m, data[pos:end], at+pos, depth+1); err != nil {
			return err
		}
		pos = end
	}
	if t.fixed > 0 {
		if len(t.members) == 0 {
			if data[0] != 0 {
				return invalid(at, t, "unit tuple byte is 0x%02x, not 0x00", data[0])
			}
			pos = 1
		}
		for ; pos < len(data); pos++ {
			if data[pos] != 0 {
				return invalid(at+pos, t, "non-zero trailing padding")
			}
		}
		return nil
	}
	if pos != offPtr {
		return invalid(at+pos, t, "%d unused bytes after the last member", offPtr-pos)
	}
	if n := len(data) - offPtr; n > 0 && OffsetWidth(uint64(pos), n/k) != k {
		return invalid(at, t, "framing offsets of %d bytes are not of minimal width", k)
	}
	return nil
}

func validateVariant(data []byte, at, depth int) error {
	vt := basicInfo['v']
	sep := bytes.LastIndexByte(data, 0)
	if sep < 0 {
		return invalid(at, vt, "no 0x00 separator before the type string")
	}
	ct, err := parseTypeBytes(data[sep+1:])
	if err != nil {
		return invalid(at+sep+1, vt, "bad child type string %q", data[sep+1:])
	}
	child := data[:sep]
	if ct.fixed > 0 && ct.fixed != len(child) {
		return invalid(at, vt, "child of type %s has size %d, want %d", ct.str, len(child), ct.fixed)
	}
	if depth >= maxDepth-ct.depth {
		return invalid(at, vt, "nested more than %d deep", maxDepth)
	}
	return validate(ct, child, at, depth+1)
}

func isObjectPath(s string) bool {
	if s == "" || s[0] != '/' {
		return false
	}
	if s == "/" {
		return true
	}
	if s[len(s)-1] == '/' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_':
		case c == '/':
			if s[i-1] == '/' {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// isSignature reports whether s is zero or more complete D-Bus types (GVariant
// types without maybe).
func isSignature(s string) bool {
	for i := 0; i < len(s); i++ {
		if !strings.ContainsRune("ybnqiuxthdvasog(){}", rune(s[i])) {
			return false
		}
	}
	for s != "" {
		_, rest, err := parseType(s, maxDepth)
		if err != nil {
			return false
		}
		s = rest
	}
	return true
}
