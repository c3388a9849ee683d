package busconn

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/godbus/dbus/v5"
)

// ErrMalformed reports a message this package cannot walk safely; such a
// message is never handed to godbus.
var ErrMalformed = errors.New("malformed message")

// Message types and flags of the wire format.
const (
	typeMethodCall   = 1
	typeMethodReturn = 2
	typeError        = 3
	typeSignal       = 4

	flagNoReplyExpected = 0x1
)

// Header field codes.
const (
	fieldPath        = 1
	fieldInterface   = 2
	fieldMember      = 3
	fieldReplySerial = 5
	fieldDestination = 6
	fieldSender      = 7
	fieldSignature   = 8
	fieldUnixFDs     = 9
)

// maxMessage is the protocol's limit on a whole message.
const maxMessage = 1 << 27

// header is what the transport needs from a message's header.
type header struct {
	order       binary.ByteOrder
	typ         byte
	flags       byte
	serial      uint32
	replySerial uint32
	dest        []byte // sub-slices of the message: no copies on the fast path
	sender      []byte
	path        []byte
	iface       []byte
	member      []byte
	sig         []byte
	unixFDs     uint32
	hasUnixFDs  bool
	fieldsEnd   int // end of the header fields (before padding)
	bodyStart   int // offset of the body (8-aligned)
	total       int // length of the whole message
}

// messageLength returns the length of the message starting at b (which
// holds at least its 16 fixed bytes).
func messageLength(b []byte) (int, error) {
	order, err := byteOrder(b[0])
	if err != nil {
		return 0, err
	}
	bodyLen := uint64(order.Uint32(b[4:8]))
	fieldsLen := uint64(order.Uint32(b[12:16]))
	if fieldsLen > 1<<26 {
		return 0, fmt.Errorf("%w: header too long", ErrMalformed)
	}
	total := (16+fieldsLen+7)&^7 + bodyLen
	if total > maxMessage {
		return 0, fmt.Errorf("%w: too long", ErrMalformed)
	}
	return int(total), nil
}

func byteOrder(c byte) (binary.ByteOrder, error) {
	switch c {
	case 'l':
		return binary.LittleEndian, nil
	case 'B':
		return binary.BigEndian, nil
	}
	return nil, fmt.Errorf("%w: byte order %q", ErrMalformed, c)
}

// parseHeader reads the header of the complete message msg.
func parseHeader(msg []byte) (*header, error) {
	if len(msg) < 16 {
		return nil, fmt.Errorf("%w: short", ErrMalformed)
	}
	total, err := messageLength(msg)
	if err != nil {
		return nil, err
	}
	if total != len(msg) {
		return nil, fmt.Errorf("%w: length", ErrMalformed)
	}
	h := &header{typ: msg[1], flags: msg[2], total: total}
	h.order, _ = byteOrder(msg[0])
	h.serial = h.order.Uint32(msg[8:12])
	h.fieldsEnd = 16 + int(h.order.Uint32(msg[12:16]))
	h.bodyStart = (h.fieldsEnd + 7) &^ 7
	w := walker{b: msg[:h.fieldsEnd], pos: 16, order: h.order}
	for w.pos < len(w.b) {
		if err := w.align(8); err != nil {
			return nil, err
		}
		code, err := w.byte1()
		if err != nil {
			return nil, err
		}
		sig, err := w.variantSig()
		if err != nil {
			return nil, err
		}
		start := w.pos
		if err := w.value(sig, 3); err != nil {
			return nil, err
		}
		switch {
		case code == fieldReplySerial && sig == "u":
			h.replySerial = h.order.Uint32(msg[start:])
		case code == fieldUnixFDs && sig == "u":
			h.unixFDs = h.order.Uint32(msg[start:])
			h.hasUnixFDs = true
		case code == fieldDestination && sig == "s":
			h.dest = w.last
		case code == fieldSender && sig == "s":
			h.sender = w.last
		case code == fieldSignature && sig == "g":
			h.sig = w.last
		case code == fieldPath && sig == "o":
			h.path = w.last
		case code == fieldInterface && sig == "s":
			h.iface = w.last
		case code == fieldMember && sig == "s":
			h.member = w.last
		}
	}
	if w.pos != h.fieldsEnd {
		return nil, fmt.Errorf("%w: header fields", ErrMalformed)
	}
	return h, nil
}

// needsWalk reports whether a body of signature sig must be walked: it
// can contain an h value, directly or inside a variant, or it has a
// dictionary keyed by b or g (valid D-Bus that godbus fails to decode,
// which would close the connection). Other bodies reach godbus as the bus
// validated them.
func needsWalk(sig []byte) bool {
	for i := 0; i < len(sig); i++ {
		switch sig[i] {
		case 'h', 'v':
			return true
		case '{':
			if i+1 < len(sig) && (sig[i+1] == 'b' || sig[i+1] == 'g') {
				return true
			}
		}
	}
	return false
}

// findFDs walks the body of msg and returns the offsets (in msg) of every
// h value, at any depth: in arrays, structs, dictionaries and variants.
// It accepts only what godbus decodes without error (same nesting limits,
// same signature rules), so godbus never sees a value this walk missed.
func findFDs(msg []byte, h *header, offs []int) ([]int, error) {
	if len(h.sig) == 0 {
		if h.bodyStart != h.total {
			return nil, fmt.Errorf("%w: body without signature", ErrMalformed)
		}
		return offs, nil
	}
	sig := string(h.sig)
	if _, err := dbus.ParseSignature(sig); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if h.bodyStart > h.total {
		return nil, fmt.Errorf("%w: body", ErrMalformed)
	}
	// Alignment is relative to the message start; the body starts at a
	// multiple of 8, so body-relative offsets align the same way.
	w := walker{b: msg[h.bodyStart:], order: h.order, offs: offs}
	for sig != "" {
		n := singleLen(sig)
		if n == 0 {
			return nil, fmt.Errorf("%w: signature", ErrMalformed)
		}
		if err := w.value(sig[:n], 0); err != nil {
			return nil, err
		}
		sig = sig[n:]
	}
	if w.pos != len(w.b) {
		return nil, fmt.Errorf("%w: trailing bytes", ErrMalformed)
	}
	for i := range w.offs {
		w.offs[i] += h.bodyStart
	}
	return w.offs, nil
}

// walker reads values of the wire format, recording where h values are.
type walker struct {
	b     []byte
	pos   int
	order binary.ByteOrder
	offs  []int
	last  []byte // the latest s, o or g value (a sub-slice of b)
}

var errShort = fmt.Errorf("%w: truncated", ErrMalformed)

func (w *walker) align(n int) error {
	p := (w.pos + n - 1) &^ (n - 1)
	if p > len(w.b) {
		return errShort
	}
	for _, c := range w.b[w.pos:p] {
		if c != 0 {
			return fmt.Errorf("%w: padding", ErrMalformed)
		}
	}
	w.pos = p
	return nil
}

func (w *walker) skip(n int) error {
	if n < 0 || n > len(w.b)-w.pos {
		return errShort
	}
	w.pos += n
	return nil
}

func (w *walker) byte1() (byte, error) {
	if w.pos >= len(w.b) {
		return 0, errShort
	}
	c := w.b[w.pos]
	w.pos++
	return c, nil
}

func (w *walker) u32() (uint32, error) {
	if err := w.align(4); err != nil {
		return 0, err
	}
	if len(w.b)-w.pos < 4 {
		return 0, errShort
	}
	v := w.order.Uint32(w.b[w.pos:])
	w.pos += 4
	return v, nil
}

// signature reads a g value (a sub-slice of b).
func (w *walker) signature() ([]byte, error) {
	n, err := w.byte1()
	if err != nil {
		return nil, err
	}
	if int(n)+1 > len(w.b)-w.pos || w.b[w.pos+int(n)] != 0 {
		return nil, errShort
	}
	s := w.b[w.pos : w.pos+int(n)]
	w.pos += int(n) + 1
	return s, nil
}

// oneChar holds the one-letter basic signatures, so the common variants
// cost no allocation.
var oneChar = func() (t [256]string) {
	for _, c := range "ybnqiuxtdsogvh" {
		t[c] = string(c)
	}
	return t
}()

// variantSig reads a variant's signature and applies godbus's rules.
func (w *walker) variantSig() (string, error) {
	b, err := w.signature()
	if err != nil {
		return "", err
	}
	if len(b) == 1 && oneChar[b[0]] != "" {
		return oneChar[b[0]], nil
	}
	s := string(b)
	return s, checkVariantSig(s)
}

// checkVariantSig applies godbus's rules for a variant's signature.
func checkVariantSig(sig string) error {
	if sig == "" {
		return fmt.Errorf("%w: empty variant", ErrMalformed)
	}
	if _, err := dbus.ParseSignature(sig); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if singleLen(sig) != len(sig) {
		return fmt.Errorf("%w: variant of several types", ErrMalformed)
	}
	return nil
}

// singleLen returns the length of the first complete type of sig, or 0.
func singleLen(sig string) int {
	if sig == "" {
		return 0
	}
	switch sig[0] {
	case 'a':
		n := singleLen(sig[1:])
		if n == 0 {
			return 0
		}
		return 1 + n
	case '(', '{':
		closer := byte(')')
		if sig[0] == '{' {
			closer = '}'
		}
		depth := 0
		for i := 0; i < len(sig); i++ {
			switch sig[i] {
			case '(', '{':
				depth++
			case ')', '}':
				depth--
				if depth == 0 {
					if sig[i] != closer {
						return 0
					}
					return i + 1
				}
			}
		}
		return 0
	case 'y', 'b', 'n', 'q', 'i', 'u', 'x', 't', 'd', 's', 'o', 'g', 'v', 'h':
		return 1
	}
	return 0
}

// alignOf returns the wire alignment of the type sig starts with.
func alignOf(c byte) int {
	switch c {
	case 'y', 'g', 'v':
		return 1
	case 'n', 'q':
		return 2
	case 'x', 't', 'd', '(', '{':
		return 8
	}
	return 4
}

// value walks one value of the single complete type sig. depth follows
// godbus's decoder (arrays, structs and variants count one, dictionary
// entries two), so the limits are the same.
func (w *walker) value(sig string, depth int) error {
	if err := w.align(alignOf(sig[0])); err != nil {
		return err
	}
	switch sig[0] {
	case 'y':
		return w.skip(1)
	case 'n', 'q':
		return w.skip(2)
	case 'x', 't', 'd':
		return w.skip(8)
	case 'i', 'u':
		return w.skip(4)
	case 'b':
		v, err := w.u32()
		if err == nil && v > 1 {
			err = fmt.Errorf("%w: boolean", ErrMalformed)
		}
		return err
	case 'h':
		w.offs = append(w.offs, w.pos)
		return w.skip(4)
	case 's', 'o':
		n, err := w.u32()
		if err != nil {
			return err
		}
		if uint64(n)+1 > uint64(len(w.b)-w.pos) || w.b[w.pos+int(n)] != 0 {
			return errShort
		}
		w.last = w.b[w.pos : w.pos+int(n)]
		w.pos += int(n) + 1
		return nil
	case 'g':
		s, err := w.signature()
		if err != nil {
			return err
		}
		if len(s) > 1 || len(s) == 1 && oneChar[s[0]] == "" {
			if _, err := dbus.ParseSignature(string(s)); err != nil {
				return fmt.Errorf("%w: %v", ErrMalformed, err)
			}
		}
		w.last = s
		return nil
	case 'v':
		if depth >= 64 {
			return fmt.Errorf("%w: too deep", ErrMalformed)
		}
		s, err := w.variantSig()
		if err != nil {
			return err
		}
		return w.value(s, depth+1)
	case '(':
		if depth >= 64 {
			return fmt.Errorf("%w: too deep", ErrMalformed)
		}
		inner := sig[1 : len(sig)-1]
		for inner != "" {
			n := singleLen(inner)
			if n == 0 {
				return fmt.Errorf("%w: signature", ErrMalformed)
			}
			if err := w.value(inner[:n], depth+1); err != nil {
				return err
			}
			inner = inner[n:]
		}
		return nil
	case 'a':
		return w.array(sig, depth)
	}
	return fmt.Errorf("%w: signature", ErrMalformed)
}

func (w *walker) array(sig string, depth int) error {
	elem := sig[1:]
	dict := elem[0] == '{'
	if (dict && depth >= 63) || depth >= 64 {
		return fmt.Errorf("%w: too deep", ErrMalformed)
	}
	n, err := w.u32()
	if err != nil {
		return err
	}
	if n > 1<<26 {
		return fmt.Errorf("%w: array too long", ErrMalformed)
	}
	if err := w.align(alignOf(elem[0])); err != nil {
		return err
	}
	end := w.pos + int(n)
	if end > len(w.b) {
		return errShort
	}
	if elem != "h" && fixedSize(elem) > 0 {
		if int(n)%fixedSize(elem) != 0 {
			return fmt.Errorf("%w: array length", ErrMalformed)
		}
		if elem == "b" {
			for p := w.pos; p < end; p += 4 {
				if w.order.Uint32(w.b[p:]) > 1 {
					return fmt.Errorf("%w: boolean", ErrMalformed)
				}
			}
		}
		w.pos = end
		return nil
	}
	for w.pos < end {
		if dict {
			if err := w.align(8); err != nil {
				return err
			}
			key, val := elem[1:2], elem[2:len(elem)-1]
			// godbus keys its maps by these types only (no b, g, v).
			if !strings.Contains("ynqiuxtdsoh", key) {
				return fmt.Errorf("%w: dictionary key", ErrMalformed)
			}
			if err := w.value(key, depth+2); err != nil {
				return err
			}
			if err := w.value(val, depth+2); err != nil {
				return err
			}
		} else if err := w.value(elem, depth+1); err != nil {
			return err
		}
	}
	if w.pos != end {
		return fmt.Errorf("%w: array length", ErrMalformed)
	}
	return nil
}

// fixedSize returns the wire size of basic fixed-size types, else 0.
func fixedSize(sig string) int {
	if len(sig) != 1 {
		return 0
	}
	switch sig[0] {
	case 'y':
		return 1
	case 'n', 'q':
		return 2
	case 'i', 'u', 'b', 'h':
		return 4
	case 'x', 't', 'd':
		return 8
	}
	return 0
}
