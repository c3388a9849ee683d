package dbusproxy

import (
	"encoding/binary"
	"fmt"
	"strings"
	"unsafe"
)

// D-Bus message types (the second byte of every message).
const (
	typeMethodCall   = 1
	typeMethodReturn = 2
	typeError        = 3
	typeSignal       = 4
)

// Header flags.
const (
	flagNoReplyExpected = 0x1
	flagNoAutoStart     = 0x2
)

// Header field codes.
const (
	fieldPath        = 1
	fieldInterface   = 2
	fieldMember      = 3
	fieldErrorName   = 4
	fieldReplySerial = 5
	fieldDestination = 6
	fieldSender      = 7
	fieldSignature   = 8
	fieldUnixFDs     = 9
)

const (
	// fixedHeaderLen is the part of a message needed to know its length.
	fixedHeaderLen = 16
	// MaxMessageSize is the largest message the D-Bus specification
	// allows (128 MiB); longer ones close the connection.
	MaxMessageSize = 1 << 27
	maxArrayLen    = 1 << 26
	busName        = "org.freedesktop.DBus"
)

// header is the parsed header of one message. Its strings are copies, so it
// stays valid after the read buffer is reused.
type header struct {
	order          binary.ByteOrder
	typ, flags     byte
	bodyLen        uint32
	serial         uint32
	bodyOff        int // offset of the body: the 8-aligned end of the header fields
	path, iface    string
	member         string
	errName        string
	dest, sender   string
	sig            string
	hasReplySerial bool
	replySerial    uint32
	unixFDs        uint32
}

func align(n, a int) int { return (n + a - 1) &^ (a - 1) }

// messageLen returns the total length of the message whose first 16 bytes
// are b, or an error for a bad endianness flag, protocol version or size.
// max is the largest accepted message.
func messageLen(b []byte, max int) (int, error) {
	if len(b) < fixedHeaderLen {
		return 0, fmt.Errorf("%w: short header", ErrMalformed)
	}
	var order binary.ByteOrder
	switch b[0] {
	case 'l':
		order = binary.LittleEndian
	case 'B':
		order = binary.BigEndian
	default:
		return 0, fmt.Errorf("%w: endianness flag %#x", ErrMalformed, b[0])
	}
	if b[3] != 1 {
		return 0, fmt.Errorf("%w: protocol version %d", ErrMalformed, b[3])
	}
	bodyLen := uint64(order.Uint32(b[4:]))
	fieldsLen := uint64(order.Uint32(b[12:]))
	if fieldsLen > maxArrayLen {
		return 0, fmt.Errorf("%w: header fields of %d bytes", ErrTooLarge, fieldsLen)
	}
	total := uint64(align(fixedHeaderLen+int(fieldsLen), 8)) + bodyLen
	if total > uint64(max) {
		return 0, fmt.Errorf("%w: message of %d bytes", ErrTooLarge, total)
	}
	return int(total), nil
}

// parseHeader parses the header of the complete message m. With strict set
// (filtering proxies) it rejects what xdg-dbus-proxy rejects: unknown header
// fields, a zero serial, unknown message types, messages missing the fields
// their type requires and signals on the Local interface. Without strict it
// only needs the framing and the fields it can skip.
func parseHeader(m []byte, strict bool) (*header, error) {
	h := new(header)
	if err := h.parse(m, strict); err != nil {
		return nil, err
	}
	return h, nil
}

// parse is parseHeader into h. Its strings share m's memory (the proxy
// parses every message; copies would be garbage): whoever keeps one beyond
// the message must clone it.
func (h *header) parse(m []byte, strict bool) error {
	if len(m) < fixedHeaderLen {
		return fmt.Errorf("%w: short header", ErrMalformed)
	}
	*h = header{typ: m[1], flags: m[2]}
	if m[0] == 'B' {
		h.order = binary.BigEndian
	} else {
		h.order = binary.LittleEndian
	}
	h.bodyLen = h.order.Uint32(m[4:])
	h.serial = h.order.Uint32(m[8:])
	fieldsLen := int(h.order.Uint32(m[12:]))
	end := fixedHeaderLen + fieldsLen
	h.bodyOff = align(end, 8)
	if fieldsLen < 0 || end > len(m) || h.bodyOff+int(h.bodyLen) != len(m) {
		return fmt.Errorf("%w: lengths do not add up", ErrMalformed)
	}
	if strict && h.serial == 0 {
		return fmt.Errorf("%w: zero serial", ErrMalformed)
	}
	off := fixedHeaderLen
	for off < end {
		off = align(off, 8)
		if off+1 >= end {
			return fmt.Errorf("%w: truncated header field", ErrMalformed)
		}
		code := m[off]
		off++
		sig, n, err := readSignature(m, off, end, true)
		if err != nil {
			return err
		}
		off = n
		switch {
		case sig == "s" || sig == "o":
			s, n, err := readString(m, h.order, off, end, true)
			if err != nil {
				return err
			}
			off = n
			switch {
			case code == fieldPath && sig == "o":
				h.path = s
			case code == fieldInterface && sig == "s":
				h.iface = s
			case code == fieldMember && sig == "s":
				h.member = s
			case code == fieldErrorName && sig == "s":
				h.errName = s
			case code == fieldDestination && sig == "s":
				h.dest = s
			case code == fieldSender && sig == "s":
				h.sender = s
			case strict || code <= fieldUnixFDs:
				return fmt.Errorf("%w: header field %d of type %s", ErrMalformed, code, sig)
			}
		case sig == "g":
			s, n, err := readSignature(m, off, end, true)
			if err != nil {
				return err
			}
			off = n
			switch {
			case code == fieldSignature:
				h.sig = s
			case strict || code <= fieldUnixFDs:
				return fmt.Errorf("%w: header field %d of type %s", ErrMalformed, code, sig)
			}
		case sig == "u":
			off = align(off, 4)
			if off+4 > end {
				return fmt.Errorf("%w: truncated header field", ErrMalformed)
			}
			v := h.order.Uint32(m[off:])
			off += 4
			switch {
			case code == fieldReplySerial:
				h.hasReplySerial, h.replySerial = true, v
			case code == fieldUnixFDs:
				h.unixFDs = v
			case strict || code <= fieldUnixFDs:
				return fmt.Errorf("%w: header field %d of type %s", ErrMalformed, code, sig)
			}
		default:
			return fmt.Errorf("%w: header field %d of type %q", ErrMalformed, code, sig)
		}
		if code == 0 {
			return fmt.Errorf("%w: header field 0", ErrMalformed)
		}
	}
	if !strict {
		return nil
	}
	switch h.typ {
	case typeMethodCall:
		if h.path == "" || h.member == "" {
			return fmt.Errorf("%w: method call without path or member", ErrMalformed)
		}
	case typeMethodReturn:
		if !h.hasReplySerial {
			return fmt.Errorf("%w: method return without reply serial", ErrMalformed)
		}
	case typeError:
		if h.errName == "" || !h.hasReplySerial {
			return fmt.Errorf("%w: error without name or reply serial", ErrMalformed)
		}
	case typeSignal:
		if h.path == "" || h.iface == "" || h.member == "" {
			return fmt.Errorf("%w: signal without path, interface or member", ErrMalformed)
		}
		if h.path == "/org/freedesktop/DBus/Local" || h.iface == "org.freedesktop.DBus.Local" {
			return fmt.Errorf("%w: signal on the Local interface", ErrMalformed)
		}
	default:
		return fmt.Errorf("%w: message type %d", ErrMalformed, h.typ)
	}
	return nil
}

// readSignature reads a signature (length byte, bytes, NUL) at off, before
// end: a copy, or with view a string sharing m's memory.
func readSignature(m []byte, off, end int, view bool) (string, int, error) {
	if off >= end {
		return "", 0, fmt.Errorf("%w: truncated signature", ErrMalformed)
	}
	n := int(m[off])
	off++
	if off+n+1 > end || m[off+n] != 0 {
		return "", 0, fmt.Errorf("%w: bad signature", ErrMalformed)
	}
	return bytesString(m[off:off+n], view), off + n + 1, nil
}

// bytesString is string(b), or with view a string sharing b's memory.
func bytesString(b []byte, view bool) string {
	if !view || len(b) == 0 {
		return string(b)
	}
	return unsafe.String(&b[0], len(b))
}

// readString reads a string (4-aligned uint32 length, bytes, NUL) at off:
// a copy, or with view a string sharing m's memory.
func readString(m []byte, order binary.ByteOrder, off, end int, view bool) (string, int, error) {
	off = align(off, 4)
	if off+4 > end {
		return "", 0, fmt.Errorf("%w: truncated string", ErrMalformed)
	}
	n := uint64(order.Uint32(m[off:]))
	off += 4
	if uint64(off)+n+1 > uint64(end) || m[off+int(n)] != 0 {
		return "", 0, fmt.Errorf("%w: bad string", ErrMalformed)
	}
	return bytesString(m[off:off+int(n)], view), off + int(n) + 1, nil
}

// body returns the body of m.
func (h *header) body(m []byte) []byte { return m[h.bodyOff:] }

// stringArgs decodes a body of n or more leading strings ("s", "ss", "sss").
// ok is false when the signature does not start with n strings or the body
// is malformed.
func (h *header) stringArgs(m []byte, n int) ([]string, bool) {
	if len(h.sig) < n {
		return nil, false
	}
	for i := 0; i < n; i++ {
		if h.sig[i] != 's' {
			return nil, false
		}
	}
	// Alignment is relative to the message start; the body starts 8-aligned.
	b := h.body(m)
	out := make([]string, n)
	off := 0
	for i := range out {
		s, next, err := readString(b, h.order, off, len(b), false)
		if err != nil {
			return nil, false
		}
		out[i], off = s, next
	}
	return out, true
}

// stringArray decodes a body whose signature is exactly "as".
func (h *header) stringArray(m []byte) ([]string, bool) {
	var out []string
	ok := h.eachString(m, func(s string) { out = append(out, strings.Clone(s)) })
	return out, ok
}

// eachString calls f with each string of a body whose signature is exactly
// "as", and reports whether the body was well formed (f may have been
// called for its first strings even so). The strings f gets share m's
// memory: f must clone what it keeps. Long ListNames replies are so
// filtered without a copy of every name.
func (h *header) eachString(m []byte, f func(s string)) bool {
	if h.sig != "as" {
		return false
	}
	b := h.body(m)
	if len(b) < 4 {
		return false
	}
	n := uint64(h.order.Uint32(b))
	if 4+n > uint64(len(b)) {
		return false
	}
	end := 4 + int(n)
	for off := 4; off < end; {
		off = align(off, 4)
		if off+4 > end {
			return false
		}
		l := uint64(h.order.Uint32(b[off:]))
		off += 4
		if uint64(off)+l+1 > uint64(end) || b[off+int(l)] != 0 {
			return false
		}
		if l > 0 {
			f(unsafe.String(&b[off], int(l)))
		} else {
			f("")
		}
		off += int(l) + 1
	}
	return true
}

// builder encodes little-endian messages the proxy makes up itself.
type builder struct {
	typ, flags byte
	serial     uint32
	fields     []byte
	sig        string
	body       []byte
}

func (b *builder) pad(buf *[]byte, a int) {
	for len(*buf)%a != 0 {
		*buf = append(*buf, 0)
	}
}

func (b *builder) stringField(code byte, sig byte, s string) {
	b.pad(&b.fields, 8)
	b.fields = append(b.fields, code, 1, sig, 0)
	b.fields = binary.LittleEndian.AppendUint32(b.fields, uint32(len(s)))
	b.fields = append(b.fields, s...)
	b.fields = append(b.fields, 0)
}

func (b *builder) uint32Field(code byte, v uint32) {
	b.pad(&b.fields, 8)
	b.fields = append(b.fields, code, 1, 'u', 0)
	b.fields = binary.LittleEndian.AppendUint32(b.fields, v)
}

func (b *builder) sigField(s string) {
	b.pad(&b.fields, 8)
	b.fields = append(b.fields, fieldSignature, 1, 'g', 0, byte(len(s)))
	b.fields = append(b.fields, s...)
	b.fields = append(b.fields, 0)
}

// appendString appends a body string; body offsets are message offsets
// modulo 8 because the body starts 8-aligned.
func (b *builder) appendString(s string) {
	b.pad(&b.body, 4)
	b.body = binary.LittleEndian.AppendUint32(b.body, uint32(len(s)))
	b.body = append(b.body, s...)
	b.body = append(b.body, 0)
}

func (b *builder) appendStringArray(a []string) {
	b.pad(&b.body, 4)
	at := len(b.body)
	b.body = append(b.body, 0, 0, 0, 0)
	for _, s := range a {
		b.appendString(s)
	}
	binary.LittleEndian.PutUint32(b.body[at:], uint32(len(b.body)-at-4))
}

func (b *builder) bytes() []byte {
	f := b.fields
	if b.sig != "" {
		b.sigField(b.sig)
		f = b.fields
	}
	out := make([]byte, 0, fixedHeaderLen+len(f)+8+len(b.body))
	out = append(out, 'l', b.typ, b.flags, 1)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(b.body)))
	out = binary.LittleEndian.AppendUint32(out, b.serial)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(f)))
	out = append(out, f...)
	b.pad(&out, 8)
	return append(out, b.body...)
}

// newCall builds a method call to the bus driver (dest may be empty: a
// message without destination is for the bus itself).
func newCall(serial uint32, flags byte, dest, path, iface, member string) *builder {
	b := &builder{typ: typeMethodCall, flags: flags, serial: serial}
	b.stringField(fieldPath, 'o', path)
	if dest != "" {
		b.stringField(fieldDestination, 's', dest)
	}
	b.stringField(fieldInterface, 's', iface)
	b.stringField(fieldMember, 's', member)
	return b
}

// errorReply builds the error the proxy answers a refused call with, as
// xdg-dbus-proxy does: no sender, NO_REPLY_EXPECTED, the error name repeated
// as the message.
func errorReply(serial, replySerial uint32, name string) []byte {
	b := &builder{typ: typeError, flags: flagNoReplyExpected, serial: serial}
	b.uint32Field(fieldReplySerial, replySerial)
	b.stringField(fieldErrorName, 's', name)
	b.sig = "s"
	b.appendString(name)
	return b.bytes()
}

// boolReply builds a method return carrying one boolean.
func boolReply(serial, replySerial uint32, v bool) []byte {
	b := &builder{typ: typeMethodReturn, flags: flagNoReplyExpected, serial: serial}
	b.uint32Field(fieldReplySerial, replySerial)
	b.sig = "b"
	var x uint32
	if v {
		x = 1
	}
	b.body = binary.LittleEndian.AppendUint32(b.body, x)
	return b.bytes()
}

// namesReply re-encodes the reply h (to ListNames) with names as its body,
// keeping its serial, flags, reply serial, sender and destination.
func namesReply(h *header, names []string) []byte {
	b := &builder{typ: h.typ, flags: h.flags, serial: h.serial}
	b.uint32Field(fieldReplySerial, h.replySerial)
	if h.dest != "" {
		b.stringField(fieldDestination, 's', h.dest)
	}
	if h.sender != "" {
		b.stringField(fieldSender, 's', h.sender)
	}
	b.sig = "as"
	b.appendStringArray(names)
	return b.bytes()
}
