package object

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"
	"io"
	"sort"
)

// File type bits of st_mode.
const (
	ModeTypeMask uint32 = 0o170000
	ModeRegular  uint32 = 0o100000
	ModeSymlink  uint32 = 0o120000
	ModeDir      uint32 = 0o040000
)

// Xattr is one extended attribute. Name is without the trailing NUL that
// the serialized form carries.
type Xattr struct {
	Name  string
	Value []byte
}

// SortXattrs sorts xs by name in byte order, as ostree serialises them.
func SortXattrs(xs []Xattr) {
	sort.Slice(xs, func(i, j int) bool { return xs[i].Name < xs[j].Name })
}

// FileHeader describes a content object: everything but the bytes.
type FileHeader struct {
	UID, GID uint32
	// Mode is the full st_mode including the type bits (0100644, 0120777).
	Mode uint32
	// Rdev is always 0 in objects ostree writes; kept to reject others.
	Rdev uint32
	// SymlinkTarget is set for symlinks, empty for regular files.
	SymlinkTarget string
	Xattrs        []Xattr
	// Size is the content length of a regular file (0 for symlinks). It is
	// not part of the checksum but is carried by .filez headers.
	Size uint64
}

// IsSymlink reports whether h describes a symlink.
func (h *FileHeader) IsSymlink() bool { return h.Mode&ModeTypeMask == ModeSymlink }

// IsRegular reports whether h describes a regular file.
func (h *FileHeader) IsRegular() bool { return h.Mode&ModeTypeMask == ModeRegular }

// Validate checks that h describes a regular file or symlink ostree would
// accept.
func (h *FileHeader) Validate() error {
	switch h.Mode & ModeTypeMask {
	case ModeRegular:
		if h.SymlinkTarget != "" {
			return fmt.Errorf("file header: %w: regular file with a symlink target", ErrInvalid)
		}
	case ModeSymlink:
		if h.SymlinkTarget == "" {
			return fmt.Errorf("file header: %w: empty symlink target", ErrInvalid)
		}
		if h.Size != 0 {
			return fmt.Errorf("file header: %w: symlink with size %d", ErrInvalid, h.Size)
		}
	default:
		return fmt.Errorf("file header: %w: mode %#o is neither a regular file nor a symlink", ErrInvalid, h.Mode)
	}
	if h.Mode&^(ModeTypeMask|0o7777) != 0 {
		return fmt.Errorf("file header: %w: mode %#o has unknown bits", ErrInvalid, h.Mode)
	}
	if h.Rdev != 0 {
		return fmt.Errorf("file header: %w: rdev %d", ErrInvalid, h.Rdev)
	}
	for _, c := range []byte(h.SymlinkTarget) {
		if c == 0 {
			return fmt.Errorf("file header: %w: NUL in symlink target", ErrInvalid)
		}
	}
	return checkXattrs(h.Xattrs)
}

// appendCommon appends uid, gid, mode, rdev (BE), target and xattrs with the
// tuple's framing offset for the target string; start is the tuple start.
func (h *FileHeader) appendCommon(b []byte, start int) []byte {
	b = binary.BigEndian.AppendUint32(b, h.UID)
	b = binary.BigEndian.AppendUint32(b, h.GID)
	b = binary.BigEndian.AppendUint32(b, h.Mode)
	b = binary.BigEndian.AppendUint32(b, h.Rdev)
	b = appendString(b, h.SymlinkTarget)
	targetEnd := len(b) - start
	b = appendXattrs(b, h.Xattrs)
	return appendOffsets(b, start, []int{targetEnd})
}

// MarshalChecksumHeader returns the "(uuuusa(ayay))" header hashed into a
// content checksum.
func (h *FileHeader) MarshalChecksumHeader() []byte {
	return h.appendCommon(make([]byte, 0, 64), 0)
}

// MarshalArchiveHeader returns the "(tuuuusa(ayay))" header of a .filez.
func (h *FileHeader) MarshalArchiveHeader() []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 64), h.Size)
	return h.appendCommon(b, 0)
}

func parseHeaderCommon(d []byte, base int, what string) (FileHeader, error) {
	var h FileHeader
	f := newFrame(d, what)
	if len(d) < base+16+1+f.k {
		return h, f.errorf("truncated")
	}
	h.UID = binary.BigEndian.Uint32(d[base:])
	h.GID = binary.BigEndian.Uint32(d[base+4:])
	h.Mode = binary.BigEndian.Uint32(d[base+8:])
	h.Rdev = binary.BigEndian.Uint32(d[base+12:])
	targetEnd, err := f.offsetAt(0)
	if err != nil {
		return h, err
	}
	end := len(d) - f.k
	if targetEnd < base+17 || targetEnd > end {
		return h, f.errorf("bad symlink target offset")
	}
	if h.SymlinkTarget, err = parseString(d[base+16:targetEnd], what); err != nil {
		return h, err
	}
	if h.Xattrs, err = parseXattrs(d[targetEnd:end]); err != nil {
		return h, err
	}
	return h, nil
}

// UnmarshalChecksumHeader parses a "(uuuusa(ayay))" header (strict).
func UnmarshalChecksumHeader(d []byte) (FileHeader, error) {
	h, err := parseHeaderCommon(d, 0, "file header")
	if err != nil {
		return h, err
	}
	if string(h.MarshalChecksumHeader()) != string(d) {
		return h, fmt.Errorf("file header: %w: not in normal form", ErrInvalid)
	}
	return h, h.Validate()
}

// UnmarshalArchiveHeader parses a .filez "(tuuuusa(ayay))" header (strict).
func UnmarshalArchiveHeader(d []byte) (FileHeader, error) {
	if len(d) < 8 {
		return FileHeader{}, fmt.Errorf("archive header: %w: truncated", ErrInvalid)
	}
	h, err := parseHeaderCommon(d, 8, "archive header")
	if err != nil {
		return h, err
	}
	h.Size = binary.BigEndian.Uint64(d)
	if string(h.MarshalArchiveHeader()) != string(d) {
		return h, fmt.Errorf("archive header: %w: not in normal form", ErrInvalid)
	}
	return h, h.Validate()
}

// ContentHasher computes a content checksum while the content is written
// to it.
type ContentHasher struct{ h hash.Hash }

// NewContentHasher starts a content checksum for h; write the file content
// (nothing for symlinks) and call Sum.
func NewContentHasher(h *FileHeader) *ContentHasher {
	hdr := h.MarshalChecksumHeader()
	s := sha256.New()
	var pre [8]byte
	binary.BigEndian.PutUint32(pre[:], uint32(len(hdr)))
	s.Write(pre[:])
	s.Write(hdr)
	return &ContentHasher{s}
}

// Write adds content bytes; it never fails.
func (c *ContentHasher) Write(p []byte) (int, error) { return c.h.Write(p) }

// Sum returns the content checksum.
func (c *ContentHasher) Sum() Checksum {
	var out Checksum
	c.h.Sum(out[:0])
	return out
}

// ContentChecksum returns the checksum of the content object (h, content).
func ContentChecksum(h *FileHeader, content io.Reader) (Checksum, error) {
	ch := NewContentHasher(h)
	if content != nil {
		if _, err := io.Copy(ch, content); err != nil {
			return Checksum{}, err
		}
	}
	return ch.Sum(), nil
}
