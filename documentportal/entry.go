package documentportal

import (
	"bytes"
	"fmt"
	"path/filepath"

	"github.com/godbus/dbus/v5"
)

// Entry flags, stored in the data of a documents table entry.
const (
	FlagUnique    uint32 = 1 // created without reuse-existing
	FlagTransient uint32 = 2 // not persistent: never written to the store
	FlagDirectory uint32 = 4 // a directory document
)

// Entry is one document.
type Entry struct {
	ID string
	// Path is the host path: the file for file documents, the directory
	// for directory documents.
	Path string
	// Dev and Ino identify the parent directory (file documents) or the
	// directory itself (directory documents).
	Dev, Ino uint64
	Flags    uint32
	// Handle is the optional trailing file handle newer upstream versions
	// store; kept as read so entries round-trip.
	Handle []byte
	// Apps holds each app's permissions.
	Apps map[string]Perm
}

// IsDir reports whether e is a directory document.
func (e *Entry) IsDir() bool { return e.Flags&FlagDirectory != 0 }

// Persistent reports whether e is kept in the permission store.
func (e *Entry) Persistent() bool { return e.Flags&FlagTransient == 0 }

// DirPath is the directory holding a file document, or a directory
// document's directory itself.
func (e *Entry) DirPath() string {
	if e.IsDir() {
		return e.Path
	}
	return filepath.Dir(e.Path)
}

// Name is the one name a document exposes in its directory.
func (e *Entry) Name() string { return filepath.Base(e.Path) }

// Perms returns app's permissions; the host view ("") has all.
func (e *Entry) Perms(app string) Perm {
	if app == "" {
		return PermAll
	}
	return e.Apps[app]
}

func (e *Entry) clone() *Entry {
	c := *e
	c.Apps = make(map[string]Perm, len(e.Apps))
	for k, v := range e.Apps {
		c.Apps[k] = v
	}
	c.Handle = bytes.Clone(e.Handle)
	return &c
}

// sameData reports whether e stores the same data as o (path, dev, ino,
// flags): upstream's test for reusing an existing document.
func (e *Entry) sameData(path string, dev, ino uint64, flags uint32) bool {
	return e.Path == path && e.Dev == dev && e.Ino == ino && e.Flags == flags
}

// entryData is the documents table data: (ay path, t dev, t ino, u flags).
// The path is a GLib bytestring, NUL-terminated.
type entryData struct {
	Path  []byte
	Dev   uint64
	Ino   uint64
	Flags uint32
}

type entryDataHandle struct {
	Path   []byte
	Dev    uint64
	Ino    uint64
	Flags  uint32
	Handle []byte
}

// Data returns the value stored for e in the documents table.
func (e *Entry) Data() dbus.Variant {
	p := append([]byte(e.Path), 0)
	if e.Handle != nil {
		return dbus.MakeVariant(entryDataHandle{p, e.Dev, e.Ino, e.Flags, e.Handle})
	}
	return dbus.MakeVariant(entryData{p, e.Dev, e.Ino, e.Flags})
}

// DecodeData parses the data of a documents table entry as read from the
// permission store: a struct (ayttu) with an optional trailing ay file
// handle. The path must be absolute and free of NUL bytes (a trailing
// terminator is dropped).
func DecodeData(v dbus.Variant) (e Entry, err error) {
	val := v.Value()
	if inner, ok := val.(dbus.Variant); ok {
		val = inner.Value()
	}
	switch d := val.(type) {
	case entryData:
		val = []any{d.Path, d.Dev, d.Ino, d.Flags}
	case entryDataHandle:
		val = []any{d.Path, d.Dev, d.Ino, d.Flags, d.Handle}
	}
	fields, ok := val.([]any)
	if !ok || (len(fields) != 4 && len(fields) != 5) {
		return e, fmt.Errorf("%w: document data of type %s, want (ayttu)", ErrInvalidArgument, v.Signature())
	}
	path, ok1 := fields[0].([]byte)
	dev, ok2 := fields[1].(uint64)
	ino, ok3 := fields[2].(uint64)
	flags, ok4 := fields[3].(uint32)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return e, fmt.Errorf("%w: document data of type %s, want (ayttu)", ErrInvalidArgument, v.Signature())
	}
	if len(fields) == 5 {
		h, ok := fields[4].([]byte)
		if !ok {
			return e, fmt.Errorf("%w: document file handle of type %T", ErrInvalidArgument, fields[4])
		}
		e.Handle = bytes.Clone(h)
		if e.Handle == nil {
			e.Handle = []byte{}
		}
	}
	path = bytes.TrimSuffix(path, []byte{0})
	if len(path) == 0 || path[0] != '/' || bytes.IndexByte(path, 0) >= 0 {
		return Entry{}, fmt.Errorf("%w: document path %q", ErrInvalidArgument, path)
	}
	e.Path = string(path)
	e.Dev, e.Ino, e.Flags = dev, ino, flags
	return e, nil
}
