package documentportal

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/godbus/dbus/v5"
	"golang.org/x/sys/unix"
)

// Add flags of AddFull and AddNamedFull.
const (
	AddReuseExisting uint32 = 1 << iota
	AddPersistent
	AddAsNeededByApp
	AddExportDirectory

	addAllFlags = AddReuseExisting | AddPersistent | AddAsNeededByApp | AddExportDirectory
)

// documents is the org.freedesktop.portal.Documents object. godbus runs
// each call in its own goroutine.
type documents struct{ s *Service }

func closeFDs(fds []int) {
	for _, fd := range fds {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
}

// takeFDs claims the descriptors of relayed arguments (see fdClaims).
func (s *Service) takeFDs(idx ...dbus.UnixFDIndex) []int {
	out := make([]int, len(idx))
	for i, x := range idx {
		out[i] = s.claims.take(x)
	}
	return out
}

func bytestring(s string) []byte { return append([]byte(s), 0) }

func fromBytestring(b []byte) string { return string(bytes.TrimSuffix(b, []byte{0})) }

var errNotAllowed = fmt.Errorf("%w: Not enough permissions", ErrNotAllowed)

// GetMountPoint returns the mount point once the file system is mounted.
func (d *documents) GetMountPoint() ([]byte, *dbus.Error) {
	d.s.waitReady()
	return bytestring(d.s.mount), nil
}

// addFlags is the AddFull flags word of Add's and AddNamed's booleans.
func addFlags(reuse, persistent bool) uint32 {
	var flags uint32
	if reuse {
		flags |= AddReuseExisting
	}
	if persistent {
		flags |= AddPersistent
	}
	return flags
}

// Add exports one regular file.
func (d *documents) Add(sender dbus.Sender, fdi dbus.UnixFDIndex, reuse, persistent bool) (string, *dbus.Error) {
	fds := d.s.takeFDs(fdi)
	defer closeFDs(fds)
	c, err := d.s.callers.of(sender)
	if err != nil {
		return "", DBusError(err)
	}
	ids, err := d.s.addFull(c, fds, nil, []uint32{addFlags(reuse, persistent)}, "", 0)
	if err != nil {
		return "", DBusError(err)
	}
	return ids[0], nil
}

// AddFull exports files (or directories with AddExportDirectory) and
// grants permissions to an app.
func (d *documents) AddFull(sender dbus.Sender, fdis []dbus.UnixFDIndex, flags uint32, app string, perms []string) ([]string, map[string]dbus.Variant, *dbus.Error) {
	fds := d.s.takeFDs(fdis...)
	defer closeFDs(fds)
	c, err := d.s.callers.of(sender)
	if err != nil {
		return nil, nil, DBusError(err)
	}
	if flags&^addAllFlags != 0 {
		return nil, nil, DBusError(fmt.Errorf("%w: Invalid flags", ErrInvalidArgument))
	}
	p, err := ParsePerms(perms)
	if err != nil {
		return nil, nil, DBusError(err)
	}
	if app != "" && !ValidAppID(app) {
		return nil, nil, DBusError(fmt.Errorf("%w: '%s' is not a valid app name", ErrInvalidArgument, app))
	}
	fl := make([]uint32, len(fds))
	for i := range fds {
		fl[i] = flags
	}
	ids, err := d.s.addFull(c, fds, nil, fl, app, p)
	if err != nil {
		return nil, nil, DBusError(err)
	}
	return ids, map[string]dbus.Variant{"mountpoint": dbus.MakeVariant(bytestring(d.s.mount))}, nil
}

// AddNamed exports a file that may not exist yet (for saving): a
// directory fd plus a name. Host callers only.
func (d *documents) AddNamed(sender dbus.Sender, fdi dbus.UnixFDIndex, name []byte, reuse, persistent bool) (string, *dbus.Error) {
	fds := d.s.takeFDs(fdi)
	defer closeFDs(fds)
	c, err := d.s.callers.of(sender)
	if err != nil {
		return "", DBusError(err)
	}
	id, err := d.s.addNamed(c, fds[0], fromBytestring(name), addFlags(reuse, persistent), "", 0, false)
	return id, DBusError(err)
}

// AddNamedFull is AddNamed with flags and a grant to an app.
func (d *documents) AddNamedFull(sender dbus.Sender, fdi dbus.UnixFDIndex, name []byte, flags uint32, app string, perms []string) (string, map[string]dbus.Variant, *dbus.Error) {
	fds := d.s.takeFDs(fdi)
	defer closeFDs(fds)
	c, err := d.s.callers.of(sender)
	if err != nil {
		return "", nil, DBusError(err)
	}
	if !c.host {
		return "", nil, DBusError(errNotAllowed)
	}
	if flags&^addAllFlags != 0 || flags&AddExportDirectory != 0 {
		return "", nil, DBusError(fmt.Errorf("%w: Invalid flags", ErrInvalidArgument))
	}
	p, err := ParsePerms(perms)
	if err != nil {
		return "", nil, DBusError(err)
	}
	if app != "" && !ValidAppID(app) {
		return "", nil, DBusError(fmt.Errorf("%w: '%s' is not a valid app name", ErrInvalidArgument, app))
	}
	id, err := d.s.addNamed(c, fds[0], fromBytestring(name), flags, app, p, true)
	if err != nil {
		return "", nil, DBusError(err)
	}
	return id, map[string]dbus.Variant{"mountpoint": dbus.MakeVariant(bytestring(d.s.mount))}, nil
}

// GrantPermissions adds permissions for an app; the caller needs
// grant-permissions and every permission it grants.
func (d *documents) GrantPermissions(sender dbus.Sender, id, app string, perms []string) *dbus.Error {
	c, err := d.s.callers.of(sender)
	if err != nil {
		return DBusError(err)
	}
	err = d.s.db.update(id, app, func(e *Entry) (Perm, error) {
		if !ValidAppID(app) {
			return 0, fmt.Errorf("%w: '%s' is not a valid app name", ErrInvalidArgument, app)
		}
		p, err := ParsePerms(perms)
		if err != nil {
			return 0, err
		}
		if !c.perms(e).Has(PermGrant | p) {
			return 0, errNotAllowed
		}
		return e.Apps[app] | p, nil
	})
	if err != nil {
		return DBusError(err)
	}
	d.s.fs.invalidate(id, app)
	return nil
}

// RevokePermissions removes permissions from an app; the caller needs
// grant-permissions and cannot revoke its own.
func (d *documents) RevokePermissions(sender dbus.Sender, id, app string, perms []string) *dbus.Error {
	c, err := d.s.callers.of(sender)
	if err != nil {
		return DBusError(err)
	}
	err = d.s.db.update(id, app, func(e *Entry) (Perm, error) {
		if !ValidAppID(app) {
			return 0, fmt.Errorf("%w: '%s' is not a valid app name", ErrInvalidArgument, app)
		}
		p, err := ParsePerms(perms)
		if err != nil {
			return 0, err
		}
		if !c.perms(e).Has(PermGrant) || c.appID == app {
			return 0, errNotAllowed
		}
		return e.Apps[app] &^ p, nil
	})
	if err != nil {
		return DBusError(err)
	}
	d.s.fs.invalidate(id, app)
	return nil
}

// Delete removes a document; the caller needs delete.
func (d *documents) Delete(sender dbus.Sender, id string) *dbus.Error {
	c, err := d.s.callers.of(sender)
	if err != nil {
		return DBusError(err)
	}
	e, err := d.s.db.remove(id, func(e *Entry) error {
		if !c.perms(e).Has(PermDelete) {
			return errNotAllowed
		}
		return nil
	})
	if err != nil {
		return DBusError(err)
	}
	for app := range e.Apps {
		d.s.fs.invalidate(id, app)
	}
	d.s.fs.invalidate(id, "")
	d.s.fs.forgetDoc(id)
	return nil
}

var errSandboxed = fmt.Errorf("%w: Not allowed in sandbox", ErrNotAllowed)

// Lookup returns the document of a host path ("" if none): a document
// made with reuse-existing for exactly that file, or the document a path
// on the mount shows. Host callers only.
func (d *documents) Lookup(sender dbus.Sender, filename []byte) (string, *dbus.Error) {
	c, err := d.s.callers.of(sender)
	if err != nil {
		return "", DBusError(err)
	}
	if !c.host {
		return "", DBusError(errSandboxed)
	}
	fd, err := unix.Open(fromBytestring(filename), unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", DBusError(fmt.Errorf("%w: %v", ErrNotFound, errors.Unwrap(err)))
	}
	defer unix.Close(fd)
	t, err := d.s.validateFD(c, fd, fdAny)
	if err != nil {
		return "", DBusError(err)
	}
	isDir := t.st.Mode&unix.S_IFMT == unix.S_IFDIR
	if t.st.Dev == d.s.fs.dev {
		id, _ := d.s.fs.idForIno(t.st.Ino, isDir, false)
		return id, nil
	}
	var flags uint32
	if isDir {
		flags |= FlagDirectory
	}
	id := d.s.db.find(t.path, t.dirSt.Dev, t.dirSt.Ino, flags)
	if id == "" {
		id = d.s.db.find(t.path, t.dirSt.Dev, t.dirSt.Ino, flags|FlagTransient)
	}
	return id, nil
}

// Info returns a document's path and permissions. Host callers only.
func (d *documents) Info(sender dbus.Sender, id string) ([]byte, map[string][]string, *dbus.Error) {
	c, err := d.s.callers.of(sender)
	if err != nil {
		return nil, nil, DBusError(err)
	}
	if !c.host {
		return nil, nil, DBusError(errSandboxed)
	}
	e, ok := d.s.db.get(id)
	if !ok {
		return nil, nil, DBusError(fmt.Errorf("%w: Invalid ID passed", ErrInvalidArgument))
	}
	apps := map[string][]string{}
	for a, p := range e.Apps {
		apps[a] = p.Strings()
	}
	return bytestring(e.Path), apps, nil
}

// List returns the documents of an app ("" for all) with their paths.
// Host callers only.
func (d *documents) List(sender dbus.Sender, app string) (map[string][]byte, *dbus.Error) {
	c, err := d.s.callers.of(sender)
	if err != nil {
		return nil, DBusError(err)
	}
	if !c.host {
		return nil, DBusError(errSandboxed)
	}
	var ids []string
	if app == "" {
		ids = d.s.db.ids("")
	} else {
		ids = d.s.db.idsOfApp(app)
	}
	out := map[string][]byte{}
	for _, id := range ids {
		if e, ok := d.s.db.get(id); ok {
			out[id] = bytestring(e.Path)
		}
	}
	return out, nil
}

// GetHostPaths maps document ids to host paths; sandboxed callers get only
// documents they have permissions on, unknown ids are left out.
func (d *documents) GetHostPaths(sender dbus.Sender, ids []string) (map[string][]byte, *dbus.Error) {
	c, err := d.s.callers.of(sender)
	if err != nil {
		return nil, DBusError(err)
	}
	out := map[string][]byte{}
	for _, id := range ids {
		e, ok := d.s.db.get(id)
		if !ok {
			continue
		}
		if !c.host {
			if _, ok := e.Apps[c.appID]; !ok {
				continue
			}
		}
		out[id] = bytestring(e.Path)
	}
	return out, nil
}

// perms returns the caller's permissions on e: all for the host.
func (c *caller) perms(e *Entry) Perm {
	if c.host {
		return PermAll
	}
	return e.Perms(c.appID)
}

// addFull exports the files (or directories) behind fds for target with
// targetPerms, as AddFull does; parents, when set, are the dev/ino pairs
// the parent directories must have (for file transfers). It returns one
// id per fd, "" where target can already reach the file.
func (s *Service) addFull(c *caller, fds []int, parents [][2]uint64, flags []uint32, target string, targetPerms Perm) ([]string, error) {
	n := len(fds)
	ids := make([]string, n)
	paths := make([]string, n)
	dirSts := make([]unix.Stat_t, n)
	writable := make([]bool, n)
	allowWrite := targetPerms.Has(PermWrite)
	for i, fd := range fds {
		reuse := flags[i]&AddReuseExisting != 0
		isDir := flags[i]&AddExportDirectory != 0
		kind := fdRegular
		if isDir {
			kind = fdDir
		}
		t, err := s.validateFD(c, fd, kind)
		if err != nil {
			return nil, err
		}
		if parents != nil && (t.dirSt.Dev != parents[i][0] || t.dirSt.Ino != parents[i][1]) {
			return nil, fmt.Errorf("%w: Invalid parent directory", ErrNotAllowed)
		}
		if allowWrite && !t.writable {
			return nil, errNotAllowed
		}
		paths[i], dirSts[i], writable[i] = t.path, t.dirSt, t.writable
		if t.st.Dev == s.fs.dev {
			// An fd on our own mount: the document it shows, or the real
			// file inside a directory document.
			id, real := s.fs.idForIno(t.st.Ino, isDir, true)
			if id == "" {
				return nil, errInvalidFD
			}
			e, ok := s.db.get(id)
			if !ok || !reuse || (allowWrite && !c.perms(e).Has(PermWrite)) {
				return nil, errInvalidFD
			}
			if real == "" {
				ids[i] = id
				continue
			}
			dir := real
			if !isDir {
				dir = filepath.Dir(real)
			}
			if unix.Lstat(dir, &dirSts[i]) != nil {
				return nil, errInvalidFD
			}
			paths[i] = real
		}
	}
	for i := range fds {
		reuse := flags[i]&AddReuseExisting != 0
		if flags[i]&AddAsNeededByApp != 0 && appHasFileAccess(target, targetPerms, paths[i]) {
			ids[i] = ""
			continue
		}
		if ids[i] != "" {
			continue
		}
		id := s.db.create(paths[i], dirSts[i].Dev, dirSts[i].Ino, reuse, flags[i]&AddPersistent != 0, flags[i]&AddExportDirectory != 0)
		ids[i] = id
		if c.appID != "" && c.appID != target {
			p := PermRead | PermGrant
			if writable[i] {
				p |= PermWrite
				if !reuse {
					p |= PermDelete
				}
			}
			s.db.setPerms(id, c.appID, p)
		}
		if target != "" && targetPerms != 0 {
			s.db.setPerms(id, target, targetPerms)
		}
	}
	for _, id := range ids {
		if id == "" {
			continue
		}
		s.fs.invalidate(id, "")
		if c.appID != "" {
			s.fs.invalidate(id, c.appID)
		}
		if target != "" && targetPerms != 0 {
			s.fs.invalidate(id, target)
		}
	}
	return ids, nil
}

// addNamed exports dir fd + name (the file may not exist yet). Host
// callers only. full selects AddNamedFull's grants.
func (s *Service) addNamed(c *caller, fd int, name string, flags uint32, target string, targetPerms Perm, full bool) (string, error) {
	if !c.host {
		return "", errNotAllowed
	}
	if name == "" || strings.ContainsRune(name, '/') {
		return "", fmt.Errorf("%w: Invalid filename passed", ErrInvalidArgument)
	}
	parent, st, _, err := s.pathForFD(c, fd)
	if err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR || st.Dev == s.fs.dev {
		return "", errInvalidFD
	}
	path := filepath.Join(parent, name)
	reuse := flags&AddReuseExisting != 0
	if full && flags&AddAsNeededByApp != 0 && appHasFileAccess(target, targetPerms, path) {
		return "", nil
	}
	id := s.db.create(path, st.Dev, st.Ino, reuse, flags&AddPersistent != 0, false)
	if full {
		if c.appID != "" && c.appID != target {
			p := PermRead | PermWrite | PermGrant
			if !reuse {
				p |= PermDelete
			}
			s.db.setPerms(id, c.appID, p)
		}
		if target != "" && targetPerms != 0 {
			s.db.setPerms(id, target, targetPerms)
		}
	}
	s.fs.invalidate(id, "")
	if c.appID != "" {
		s.fs.invalidate(id, c.appID)
	}
	if target != "" && targetPerms != 0 {
		s.fs.invalidate(id, target)
	}
	return id, nil
}
