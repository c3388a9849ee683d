package permissionstore

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/godbus/dbus/v5"

	"github.com/porthole-dev/porthole/internal/gvariant"
)

// Store holds the permission tables of one directory and implements the
// methods of the PermissionStore interface. Tables are loaded on first use
// and kept in memory; like xdg-permission-store, a Store does not notice
// when another process replaces a table file while it runs.
type Store struct {
	dir string
	log *slog.Logger

	mu     sync.Mutex // guards tables
	tables map[string]*table

	// emit sends the Changed signal; set by Export. Called in call order.
	emit func(tableName, id string, deleted bool, data dbus.Variant, perms map[string][]string)
}

// NewStore returns a store over the table files in dir (usually
// $XDG_DATA_HOME/flatpak/db); dir is created when a table is first used.
// A nil logger discards.
func NewStore(dir string, log *slog.Logger) *Store {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Store{dir: dir, log: log, tables: make(map[string]*table)}
}

// table returns the named table, loading it on first use.
func (s *Store) table(name string) (*table, error) {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return nil, fmt.Errorf("%w: invalid table name %q", ErrInvalidArgument, name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.tables[name]; ok {
		return t, nil
	}
	if err := os.MkdirAll(s.dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("%w: Unable to load db file %s: %v", ErrFailed, name, err)
	}
	t, skipped, err := loadTable(name, filepath.Join(s.dir, name))
	if err != nil {
		return nil, fmt.Errorf("%w: Unable to load db file %s: %v", ErrFailed, name, err)
	}
	if len(skipped) > 0 {
		s.log.Warn("skipping unreadable entries", "table", name, "ids", skipped)
	}
	s.tables[name] = t
	return t, nil
}

// get returns id's entry.
func (t *table) get(id string) *entry {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.entries[id]
}

// put stores e under id (nil deletes) and returns the previous entry.
func (t *table) put(id string, e *entry) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.hist.change(id, t.entries[id], e)
	if e == nil {
		delete(t.entries, id)
	} else {
		t.entries[id] = e
	}
	t.gen++
}

// maxKey is the longest key a GVDB item can record (its length is 16
// bits); ids and app ids become keys of the table file.
const maxKey = 1<<16 - 1

func checkKey(what, k string) error {
	if len(k) > maxKey {
		return fmt.Errorf("%w: %s of %d bytes is too long (at most %d)", ErrInvalidArgument, what, len(k), maxKey)
	}
	return nil
}

func notFoundEntry(id string) error { return fmt.Errorf("%w: No entry for %s", ErrNotFound, id) }
func notFoundID(id string) error    { return fmt.Errorf("%w: Id %s not found", ErrNotFound, id) }

// List returns the ids of a table, in xdg-permission-store's order.
func (s *Store) List(tableName string) ([]string, error) {
	t, err := s.table(tableName)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	ids := t.hist.ids(func(id string) bool { return t.entries[id] != nil })
	if ids == nil {
		ids = []string{}
	}
	return ids, nil
}

// Lookup returns the permissions (apps with a non-empty list) and the data
// of an entry.
func (s *Store) Lookup(tableName, id string) (map[string][]string, gvariant.Value, error) {
	t, err := s.table(tableName)
	if err != nil {
		return nil, gvariant.Value{}, err
	}
	e := t.get(id)
	if e == nil {
		return nil, gvariant.Value{}, notFoundEntry(id)
	}
	return e.permissionMap(), e.data, nil
}

// GetPermission returns app's permissions in an entry (empty when none).
func (s *Store) GetPermission(tableName, id, app string) ([]string, error) {
	t, err := s.table(tableName)
	if err != nil {
		return nil, err
	}
	e := t.get(id)
	if e == nil {
		return nil, notFoundEntry(id)
	}
	return slices.Clip(e.permissions(app)), nil
}

// change is the result of a successful modification: what to announce
// and which table to write.
type change struct {
	t       *table
	id      string
	deleted bool
	e       *entry // new entry, or the deleted one
}

// Set replaces an entry: data plus the given app permissions.
func (s *Store) set(tableName string, create bool, id string, perms map[string][]string, data gvariant.Value) (*change, error) {
	t, err := s.table(tableName)
	if err != nil {
		return nil, err
	}
	if err := checkKey("id", id); err != nil {
		return nil, err
	}
	for app := range perms {
		if err := checkKey("app id", app); err != nil {
			return nil, err
		}
	}
	if t.get(id) == nil && !create {
		return nil, notFoundID(id)
	}
	e := &entry{data: data}
	apps := make([]string, 0, len(perms))
	for app := range perms {
		apps = append(apps, app)
	}
	slices.Sort(apps)
	for _, app := range apps {
		e = e.withPerms(app, perms[app])
	}
	t.put(id, e)
	return &change{t: t, id: id, e: e}, nil
}

func (s *Store) setValue(tableName string, create bool, id string, data gvariant.Value) (*change, error) {
	t, err := s.table(tableName)
	if err != nil {
		return nil, err
	}
	if err := checkKey("id", id); err != nil {
		return nil, err
	}
	old := t.get(id)
	var e *entry
	switch {
	case old != nil:
		e = &entry{data: data, apps: old.apps}
	case create:
		e = &entry{data: data}
	default:
		return nil, notFoundID(id)
	}
	t.put(id, e)
	return &change{t: t, id: id, e: e}, nil
}

func (s *Store) setPermission(tableName string, create bool, id, app string, perms []string) (*change, error) {
	t, err := s.table(tableName)
	if err != nil {
		return nil, err
	}
	if err := checkKey("id", id); err != nil {
		return nil, err
	}
	if err := checkKey("app id", app); err != nil {
		return nil, err
	}
	old := t.get(id)
	if old == nil {
		if !create {
			return nil, notFoundID(id)
		}
		old = &entry{data: defaultData}
	}
	e := old.withPerms(app, perms)
	t.put(id, e)
	return &change{t: t, id: id, e: e}, nil
}

func (s *Store) deleteEntry(tableName, id string) (*change, error) {
	t, err := s.table(tableName)
	if err != nil {
		return nil, err
	}
	old := t.get(id)
	if old == nil {
		return nil, notFoundEntry(id)
	}
	t.put(id, nil)
	return &change{t: t, id: id, deleted: true, e: old}, nil
}

func (s *Store) deletePermission(tableName, id, app string) (*change, error) {
	t, err := s.table(tableName)
	if err != nil {
		return nil, err
	}
	old := t.get(id)
	if old == nil {
		return nil, notFoundEntry(id)
	}
	e := old.withoutApp(app)
	t.put(id, e)
	return &change{t: t, id: id, e: e}, nil
}

// announce sends the Changed signal for c. A deletion reports the old data
// and no permissions, as upstream does.
func (s *Store) announce(c *change) {
	if s.emit == nil {
		return
	}
	data, err := toDBusVariant(c.e.data)
	if err != nil {
		s.log.Warn("not announcing change: data has no D-Bus form", "table", c.t.name, "id", c.id, "err", err)
		return
	}
	perms := map[string][]string{}
	if !c.deleted {
		perms = c.e.permissionMap()
	}
	s.emit(c.t.name, c.id, c.deleted, data, perms)
}

// commit makes c durable; the caller replies only after it returns.
func (s *Store) commit(c *change) error {
	if err := c.t.sync(); err != nil {
		return fmt.Errorf("%w: Unable to write db: %v", ErrFailed, err)
	}
	return nil
}
