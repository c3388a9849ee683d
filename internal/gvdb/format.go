package gvdb

import (
	"encoding/binary"
	"errors"
)

// Sentinel errors.
var (
	// ErrInvalid reports a file whose header or structure is not GVDB.
	ErrInvalid = errors.New("gvdb: invalid file")
	// ErrNotFound reports a key that is absent or has another item type.
	ErrNotFound = errors.New("gvdb: no such key")
	// ErrByteswapped reports a value read from a file of the other endianness.
	ErrByteswapped = errors.New("gvdb: byteswapped file values are not supported")
)

const (
	headerSize     = 24
	hashHeaderSize = 8
	itemSize       = 24
	noParent       = 0xffffffff

	// signature words as they appear little-endian: "GVariant".
	signature0 = 0x72615647
	signature1 = 0x746e6169

	// defaultBloomShift is the shift gvdb's writer records; it writes no
	// bloom words, so the shift only fills the header bits.
	defaultBloomShift = 5
)

// Item types.
const (
	TypeValue byte = 'v'
	TypeTable byte = 'H'
	TypeList  byte = 'L'
)

// Hash returns the GVDB hash of key (djb hash over signed bytes).
func Hash(key string) uint32 {
	h := uint32(5381)
	for i := 0; i < len(key); i++ {
		h = h*33 + uint32(int32(int8(key[i])))
	}
	return h
}

var le = binary.LittleEndian
