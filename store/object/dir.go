package object

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"unicode/utf8"
)

// DirMeta is a dirmeta object "(uuua(ayay))": owner, mode and xattrs of a
// directory.
type DirMeta struct {
	UID, GID uint32
	Mode     uint32 // includes S_IFDIR (040000)
	Xattrs   []Xattr
}

// Marshal returns the serialized dirmeta (BE uid/gid/mode).
func (m *DirMeta) Marshal() []byte { return marshalUUUX(m.UID, m.GID, m.Mode, m.Xattrs) }

// Validate checks the mode is S_IFDIR with only permission, setuid, setgid
// and sticky bits.
func (m *DirMeta) Validate() error {
	if m.Mode&ModeTypeMask != ModeDir || m.Mode&^(ModeTypeMask|0o7777) != 0 {
		return fmt.Errorf("dirmeta: %w: mode %#o", ErrInvalid, m.Mode)
	}
	return checkXattrs(m.Xattrs)
}

// UnmarshalDirMeta parses and validates a dirmeta object.
func UnmarshalDirMeta(d []byte) (DirMeta, error) {
	uid, gid, mode, xs, err := unmarshalUUUX(d, "dirmeta")
	m := DirMeta{uid, gid, mode, xs}
	if err != nil {
		return m, err
	}
	return m, m.Validate()
}

// UserMeta is the "user.ostreemeta" xattr of bare-user objects:
// "(uuua(ayay))" with the object's real uid, gid, mode and xattrs.
type UserMeta struct {
	UID, GID, Mode uint32
	Xattrs         []Xattr
}

// Marshal serializes the user.ostreemeta value.
func (m *UserMeta) Marshal() []byte { return marshalUUUX(m.UID, m.GID, m.Mode, m.Xattrs) }

// UnmarshalUserMeta parses a user.ostreemeta value.
func UnmarshalUserMeta(d []byte) (UserMeta, error) {
	uid, gid, mode, xs, err := unmarshalUUUX(d, "user.ostreemeta")
	return UserMeta{uid, gid, mode, xs}, err
}

func marshalUUUX(uid, gid, mode uint32, xs []Xattr) []byte {
	b := make([]byte, 0, 12+16*len(xs))
	b = binary.BigEndian.AppendUint32(b, uid)
	b = binary.BigEndian.AppendUint32(b, gid)
	b = binary.BigEndian.AppendUint32(b, mode)
	return appendXattrs(b, xs)
}

func unmarshalUUUX(d []byte, what string) (uid, gid, mode uint32, xs []Xattr, err error) {
	if len(d) < 12 {
		return 0, 0, 0, nil, fmt.Errorf("%s: %w: truncated", what, ErrInvalid)
	}
	uid = binary.BigEndian.Uint32(d)
	gid = binary.BigEndian.Uint32(d[4:])
	mode = binary.BigEndian.Uint32(d[8:])
	if xs, err = parseXattrs(d[12:]); err != nil {
		return uid, gid, mode, nil, fmt.Errorf("%s: %w", what, err)
	}
	if !bytes.Equal(marshalUUUX(uid, gid, mode, xs), d) {
		return uid, gid, mode, xs, fmt.Errorf("%s: %w: not in normal form", what, ErrInvalid)
	}
	return uid, gid, mode, xs, nil
}

// TreeFile is a file entry of a dirtree.
type TreeFile struct {
	Name     string
	Checksum Checksum // content object
}

// TreeDir is a subdirectory entry of a dirtree.
type TreeDir struct {
	Name string
	Tree Checksum // dirtree object
	Meta Checksum // dirmeta object
}

// DirTree is a dirtree object "(a(say)a(sayay))". Both lists are sorted by
// name in byte order.
type DirTree struct {
	Files []TreeFile
	Dirs  []TreeDir
}

// ValidateFilename checks a single path element as ostree does: non-empty,
// not "." or "..", no '/', no NUL, valid UTF-8.
func ValidateFilename(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty file name", ErrInvalid)
	case name == "." || name == "..":
		return fmt.Errorf("%w: file name %q", ErrInvalid, name)
	case strings.ContainsAny(name, "/\x00"):
		return fmt.Errorf("%w: file name %q contains '/' or NUL", ErrInvalid, name)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: file name %q is not UTF-8", ErrInvalid, name)
	}
	return nil
}

// Validate checks names and order (sorted, unique across files and dirs).
func (t *DirTree) Validate() error {
	seen := make(map[string]struct{}, len(t.Files)+len(t.Dirs))
	for i, f := range t.Files {
		if err := ValidateFilename(f.Name); err != nil {
			return fmt.Errorf("dirtree: %w", err)
		}
		if i > 0 && t.Files[i-1].Name >= f.Name {
			return fmt.Errorf("dirtree: %w: files not sorted or duplicate %q", ErrInvalid, f.Name)
		}
		seen[f.Name] = struct{}{}
	}
	for i, d := range t.Dirs {
		if err := ValidateFilename(d.Name); err != nil {
			return fmt.Errorf("dirtree: %w", err)
		}
		if i > 0 && t.Dirs[i-1].Name >= d.Name {
			return fmt.Errorf("dirtree: %w: dirs not sorted or duplicate %q", ErrInvalid, d.Name)
		}
		if _, dup := seen[d.Name]; dup {
			return fmt.Errorf("dirtree: %w: %q is both a file and a directory", ErrInvalid, d.Name)
		}
	}
	return nil
}

// Marshal serializes the dirtree.
func (t *DirTree) Marshal() []byte {
	b := make([]byte, 0, 64*(len(t.Files)+len(t.Dirs))+8)
	var offs []int
	for _, f := range t.Files {
		es := len(b)
		b = appendString(b, f.Name)
		nameEnd := len(b) - es
		b = append(b, f.Checksum[:]...)
		b = appendOffsets(b, es, []int{nameEnd})
		offs = append(offs, len(b))
	}
	b = appendOffsets(b, 0, offs)
	filesEnd := len(b)
	offs = offs[:0]
	for _, d := range t.Dirs {
		es := len(b)
		b = appendString(b, d.Name)
		nameEnd := len(b) - es
		b = append(b, d.Tree[:]...)
		treeEnd := len(b) - es
		b = append(b, d.Meta[:]...)
		b = appendOffsets(b, es, []int{treeEnd, nameEnd})
		offs = append(offs, len(b)-filesEnd)
	}
	b = appendOffsets(b, filesEnd, offs)
	return appendOffsets(b, 0, []int{filesEnd})
}

// UnmarshalDirTree parses and validates a dirtree object.
func UnmarshalDirTree(d []byte) (DirTree, error) {
	var t DirTree
	m, err := newFrame(d, "dirtree").varTuple(2)
	if err != nil {
		return t, err
	}
	files, err := newFrame(m[0], "dirtree files").arrayElems(1)
	if err != nil {
		return t, err
	}
	for _, e := range files {
		p, err := newFrame(e, "dirtree file").varTuple(2)
		if err != nil {
			return t, err
		}
		name, err := parseString(p[0], "dirtree file")
		if err != nil {
			return t, err
		}
		c, err := ChecksumFromBytes(p[1])
		if err != nil {
			return t, fmt.Errorf("dirtree file %q: %w", name, err)
		}
		t.Files = append(t.Files, TreeFile{name, c})
	}
	dirs, err := newFrame(m[1], "dirtree dirs").arrayElems(1)
	if err != nil {
		return t, err
	}
	for _, e := range dirs {
		p, err := newFrame(e, "dirtree dir").varTuple(3)
		if err != nil {
			return t, err
		}
		name, err := parseString(p[0], "dirtree dir")
		if err != nil {
			return t, err
		}
		tc, err := ChecksumFromBytes(p[1])
		if err != nil {
			return t, fmt.Errorf("dirtree dir %q: %w", name, err)
		}
		mc, err := ChecksumFromBytes(p[2])
		if err != nil {
			return t, fmt.Errorf("dirtree dir %q: %w", name, err)
		}
		t.Dirs = append(t.Dirs, TreeDir{name, tc, mc})
	}
	if err := t.Validate(); err != nil {
		return t, err
	}
	if !bytes.Equal(t.Marshal(), d) {
		return t, fmt.Errorf("dirtree: %w: not in normal form", ErrInvalid)
	}
	return t, nil
}
