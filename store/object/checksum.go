package object

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// ErrInvalid is wrapped by every error about malformed object data, names or
// checksums.
var ErrInvalid = errors.New("invalid object")

// Checksum is a SHA-256 object checksum.
type Checksum [32]byte

// String returns the 64-character lowercase hex form.
func (c Checksum) String() string { return hex.EncodeToString(c[:]) }

// IsZero reports whether c is all zero bytes.
func (c Checksum) IsZero() bool { return c == Checksum{} }

// ParseChecksum parses 64 hex characters (lowercase, as ostree requires).
func ParseChecksum(s string) (Checksum, error) {
	var c Checksum
	if len(s) != 64 {
		return c, fmt.Errorf("checksum %q: %w: need 64 hex characters", s, ErrInvalid)
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if !(ch >= '0' && ch <= '9' || ch >= 'a' && ch <= 'f') {
			return c, fmt.Errorf("checksum %q: %w: not lowercase hex", s, ErrInvalid)
		}
	}
	hex.Decode(c[:], []byte(s))
	return c, nil
}

// ChecksumFromBytes converts a 32-byte "ay" into a Checksum.
func ChecksumFromBytes(b []byte) (Checksum, error) {
	var c Checksum
	if len(b) != 32 {
		return c, fmt.Errorf("%w: checksum of %d bytes, want 32", ErrInvalid, len(b))
	}
	copy(c[:], b)
	return c, nil
}

// Sum returns the SHA-256 of data: the checksum of a metadata object.
func Sum(data []byte) Checksum { return sha256.Sum256(data) }

// ObjectType is ostree's OstreeObjectType.
type ObjectType uint8

// Object types with ostree's numbering.
const (
	TypeFile            ObjectType = 1
	TypeDirTree         ObjectType = 2
	TypeDirMeta         ObjectType = 3
	TypeCommit          ObjectType = 4
	TypeTombstoneCommit ObjectType = 5
	TypeCommitMeta      ObjectType = 6
)

var typeNames = [...]string{
	TypeFile:            "file",
	TypeDirTree:         "dirtree",
	TypeDirMeta:         "dirmeta",
	TypeCommit:          "commit",
	TypeTombstoneCommit: "tombstone-commit",
	TypeCommitMeta:      "commitmeta",
}

// String returns ostree's name of the type ("file", "dirtree", …), which is
// also the loose-object suffix except for files in archive repos.
func (t ObjectType) String() string {
	if t.Valid() {
		return typeNames[t]
	}
	return fmt.Sprintf("ObjectType(%d)", uint8(t))
}

// Valid reports whether t is one of the known types.
func (t ObjectType) Valid() bool { return t >= TypeFile && t <= TypeCommitMeta }

// IsMeta reports whether objects of type t are metadata (stored verbatim).
func (t ObjectType) IsMeta() bool { return t != TypeFile }

// Suffix returns the loose-object file suffix; archive selects ".filez" for
// content objects.
func (t ObjectType) Suffix(archive bool) string {
	if t == TypeFile && archive {
		return "filez"
	}
	return t.String()
}

// ParseObjectType maps a suffix or type name ("file", "filez", "dirtree", …)
// to its type.
func ParseObjectType(s string) (ObjectType, error) {
	if s == "filez" {
		return TypeFile, nil
	}
	for t, n := range typeNames {
		if n != "" && n == s {
			return ObjectType(t), nil
		}
	}
	return 0, fmt.Errorf("object type %q: %w", s, ErrInvalid)
}

// ObjectName identifies an object: checksum and type.
type ObjectName struct {
	Checksum Checksum
	Type     ObjectType
}

// String returns "<hex>.<type>", as ostree prints object names.
func (n ObjectName) String() string { return n.Checksum.String() + "." + n.Type.String() }

// LoosePath returns the path of the loose object relative to the repo's
// objects/ directory: "XX/<62 hex>.<suffix>".
func (n ObjectName) LoosePath(archive bool) string {
	h := n.Checksum.String()
	return h[:2] + "/" + h[2:] + "." + n.Type.Suffix(archive)
}

// ParseObjectName parses "<hex>.<type>".
func ParseObjectName(s string) (ObjectName, error) {
	if len(s) < 66 || s[64] != '.' {
		return ObjectName{}, fmt.Errorf("object name %q: %w", s, ErrInvalid)
	}
	c, err := ParseChecksum(s[:64])
	if err != nil {
		return ObjectName{}, err
	}
	t, err := ParseObjectType(s[65:])
	if err != nil {
		return ObjectName{}, err
	}
	return ObjectName{c, t}, nil
}
