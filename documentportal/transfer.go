package documentportal

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/godbus/dbus/v5"
	"golang.org/x/sys/unix"
)

var errInvalidTransfer = fmt.Errorf("%w: Invalid transfer", ErrAccessDenied)

// transfer is one FileTransfer session.
type transfer struct {
	key      string
	sender   string
	owner    *caller
	writable bool
	autostop bool

	mu    sync.Mutex
	files []transferFile
}

type transferFile struct {
	path     string
	isDir    bool
	dev, ino uint64 // of the parent directory (the directory itself for directories)
}

// transfers holds the live sessions by key.
type transfers struct {
	s  *Service
	mu sync.Mutex
	m  map[string]*transfer
}

func (ts *transfers) get(key string) *transfer {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.m[key]
}

// stop ends t and tells its sender with TransferClosed.
func (ts *transfers) stop(t *transfer) {
	ts.mu.Lock()
	_, live := ts.m[t.key]
	delete(ts.m, t.key)
	ts.mu.Unlock()
	if !live {
		return
	}
	msg := &dbus.Message{
		Type:    dbus.TypeSignal,
		Headers: map[dbus.HeaderField]dbus.Variant{},
		Body:    []any{t.key},
	}
	msg.Headers[dbus.FieldPath] = dbus.MakeVariant(ObjectPath)
	msg.Headers[dbus.FieldInterface] = dbus.MakeVariant(TransferIface)
	msg.Headers[dbus.FieldMember] = dbus.MakeVariant("TransferClosed")
	msg.Headers[dbus.FieldDestination] = dbus.MakeVariant(t.sender)
	msg.Headers[dbus.FieldSignature] = dbus.MakeVariant(dbus.SignatureOf(t.key))
	ts.s.conn.Send(msg, nil)
}

// stopForSender ends the sessions of a peer that left the bus.
func (ts *transfers) stopForSender(sender string) {
	ts.mu.Lock()
	var gone []*transfer
	for _, t := range ts.m {
		if t.sender == sender {
			gone = append(gone, t)
		}
	}
	ts.mu.Unlock()
	for _, t := range gone {
		ts.stop(t)
	}
}

// fileTransfer is the org.freedesktop.portal.FileTransfer object.
type fileTransfer struct{ s *Service }

// StartTransfer starts a session; options writable (b, default false) and
// autostop (b, default true).
func (f *fileTransfer) StartTransfer(sender dbus.Sender, opts map[string]dbus.Variant) (string, *dbus.Error) {
	c, err := f.s.callers.of(sender)
	if err != nil {
		return "", DBusError(err)
	}
	t := &transfer{sender: string(sender), owner: c, autostop: true}
	if v, ok := opts["writable"]; ok {
		b, ok := v.Value().(bool)
		if !ok {
			return "", DBusError(fmt.Errorf("%w: writable must be a boolean", ErrInvalidArgument))
		}
		t.writable = b
	}
	if v, ok := opts["autostop"]; ok {
		b, ok := v.Value().(bool)
		if !ok {
			return "", DBusError(fmt.Errorf("%w: autostop must be a boolean", ErrInvalidArgument))
		}
		t.autostop = b
	}
	ts := f.s.xfers
	ts.mu.Lock()
	for {
		var b [8]byte
		rand.Read(b[:])
		t.key = strconv.FormatUint(binary.LittleEndian.Uint64(b[:]), 10)
		if _, taken := ts.m[t.key]; !taken {
			break
		}
	}
	ts.m[t.key] = t
	ts.mu.Unlock()
	return t.key, nil
}

// AddFiles adds files to a session; only its starter may.
func (f *fileTransfer) AddFiles(sender dbus.Sender, key string, fdis []dbus.UnixFDIndex, opts map[string]dbus.Variant) *dbus.Error {
	fds := f.s.takeFDs(fdis...)
	defer closeFDs(fds)
	t := f.s.xfers.get(key)
	if t == nil || t.sender != string(sender) {
		return DBusError(errInvalidTransfer)
	}
	c, err := f.s.callers.of(sender)
	if err != nil {
		return DBusError(err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, fd := range fds {
		tg, err := f.s.validateFD(c, fd, fdAny)
		if err != nil || (t.writable && !tg.writable) {
			return DBusError(fmt.Errorf("%w: Can't export file", ErrNotAllowed))
		}
		t.files = append(t.files, transferFile{
			path: tg.path, isDir: tg.st.Mode&unix.S_IFMT == unix.S_IFDIR,
			dev: tg.dirSt.Dev, ino: tg.dirSt.Ino,
		})
	}
	return nil
}

// RetrieveFiles returns the session's files for the caller: host paths for
// host callers, document paths (exported on the fly) for sandboxed ones.
func (f *fileTransfer) RetrieveFiles(sender dbus.Sender, key string, opts map[string]dbus.Variant) ([]string, *dbus.Error) {
	t := f.s.xfers.get(key)
	if t == nil {
		return nil, DBusError(errInvalidTransfer)
	}
	c, err := f.s.callers.of(sender)
	if err != nil {
		return nil, DBusError(err)
	}
	files, err := f.s.retrieve(t, c)
	if t.autostop {
		f.s.xfers.stop(t)
	}
	if err != nil {
		return nil, DBusError(err)
	}
	return files, nil
}

// StopTransfer ends a session.
func (f *fileTransfer) StopTransfer(sender dbus.Sender, key string) *dbus.Error {
	t := f.s.xfers.get(key)
	if t == nil {
		return DBusError(errInvalidTransfer)
	}
	f.s.xfers.stop(t)
	return nil
}

func (s *Service) retrieve(t *transfer, target *caller) ([]string, error) {
	t.mu.Lock()
	files := append([]transferFile(nil), t.files...)
	t.mu.Unlock()
	out := make([]string, len(files))
	if target.host {
		for i, f := range files {
			out[i] = f.path
		}
		return out, nil
	}
	perms := PermRead
	if t.writable {
		perms |= PermWrite
	}
	fds := make([]int, 0, len(files))
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	parents := make([][2]uint64, len(files))
	flags := make([]uint32, len(files))
	for i, f := range files {
		fd, err := unix.Open(f.path, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("%w: file transfer %s: %v", ErrFailed, t.key, err)
		}
		fds = append(fds, fd)
		parents[i] = [2]uint64{f.dev, f.ino}
		flags[i] = AddReuseExisting | AddAsNeededByApp
		if f.isDir {
			flags[i] |= AddExportDirectory
		}
	}
	ids, err := s.addFull(t.owner, fds, parents, flags, target.appID, perms)
	if err != nil {
		return nil, err
	}
	for i, f := range files {
		if ids[i] == "" {
			out[i] = f.path
		} else {
			out[i] = filepath.Join(s.mount, ids[i], filepath.Base(f.path))
		}
	}
	return out, nil
}
