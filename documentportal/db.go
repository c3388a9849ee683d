package documentportal

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"sort"
	"sync"
)

// persister writes persistent entries to the permission store. Calls are
// made in order, under the db lock; they must not block on the store.
type persister interface {
	Set(e *Entry)
	SetPermission(id, app string, p Perm)
	Delete(id string)
}

// db holds every document: persistent ones mirrored to the permission
// store, transient ones only here. Safe for concurrent use.
type db struct {
	mu    sync.RWMutex
	docs  map[string]*Entry
	store persister // nil: nothing is persisted
}

func newDB(store persister) *db {
	return &db{docs: map[string]*Entry{}, store: store}
}

// load adds entries read from the store, without writing them back.
func (d *db) load(entries []*Entry) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, e := range entries {
		d.docs[e.ID] = e
	}
}

// get returns a copy of the entry for id.
func (d *db) get(id string) (*Entry, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	e, ok := d.docs[id]
	if !ok {
		return nil, false
	}
	return e.clone(), true
}

// perms returns app's permissions on id and whether id exists.
func (d *db) perms(id, app string) (Perm, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	e, ok := d.docs[id]
	if !ok {
		return 0, false
	}
	return e.Perms(app), true
}

// ids lists the document ids, sorted; with app != "" only those app may
// read.
func (d *db) ids(app string) []string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := make([]string, 0, len(d.docs))
	for id, e := range d.docs {
		if app == "" || e.Apps[app].Has(PermRead) {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// idsOfApp lists the documents app has any permission entry on.
func (d *db) idsOfApp(app string) []string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	var out []string
	for id, e := range d.docs {
		if _, ok := e.Apps[app]; ok {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// apps lists every app id holding permissions on some document.
func (d *db) apps() []string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	set := map[string]bool{}
	for _, e := range d.docs {
		for a := range e.Apps {
			set[a] = true
		}
	}
	out := make([]string, 0, len(set))
	for a := range set {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// find returns the id of a document with exactly this data.
func (d *db) find(path string, dev, ino uint64, flags uint32) string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	var best string
	for id, e := range d.docs {
		if e.sameData(path, dev, ino, flags) && (best == "" || id < best) {
			best = id
		}
	}
	return best
}

// create returns the id of a document for path: an existing one with the
// same data when reuse is set, else a new one.
func (d *db) create(path string, dev, ino uint64, reuse, persistent, dir bool) string {
	var flags uint32
	if !reuse {
		flags |= FlagUnique
	}
	if !persistent {
		flags |= FlagTransient
	}
	if dir {
		flags |= FlagDirectory
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if reuse {
		var best string
		for id, e := range d.docs {
			if e.sameData(path, dev, ino, flags) && (best == "" || id < best) {
				best = id
			}
		}
		if best != "" {
			return best
		}
	}
	var id string
	for {
		var b [4]byte
		rand.Read(b[:])
		id = fmt.Sprintf("%x", binary.LittleEndian.Uint32(b[:]))
		if _, taken := d.docs[id]; !taken {
			break
		}
	}
	e := &Entry{ID: id, Path: path, Dev: dev, Ino: ino, Flags: flags, Apps: map[string]Perm{}}
	d.docs[id] = e
	if persistent && d.store != nil {
		d.store.Set(e.clone())
	}
	return id
}

// setPerms replaces app's permissions on id (p == 0 drops the app).
func (d *db) setPerms(id, app string, p Perm) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.docs[id]
	if !ok {
		return false
	}
	if p == 0 {
		delete(e.Apps, app)
	} else {
		e.Apps[app] = p
	}
	if e.Persistent() && d.store != nil {
		d.store.SetPermission(id, app, p)
	}
	return true
}

// update applies f to app's permissions on id atomically and returns the
// new value; f returns an error to refuse.
func (d *db) update(id, app string, f func(e *Entry) (Perm, error)) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.docs[id]
	if !ok {
		return fmt.Errorf("%w: no such document: %s", ErrNotFound, id)
	}
	p, err := f(e)
	if err != nil {
		return err
	}
	if p == 0 {
		delete(e.Apps, app)
	} else {
		e.Apps[app] = p
	}
	if e.Persistent() && d.store != nil {
		d.store.SetPermission(id, app, p)
	}
	return nil
}

// remove deletes id, if check (called under the lock) allows it, and
// returns the removed entry.
func (d *db) remove(id string, check func(e *Entry) error) (*Entry, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.docs[id]
	if !ok {
		return nil, fmt.Errorf("%w: no such document: %s", ErrNotFound, id)
	}
	if check != nil {
		if err := check(e); err != nil {
			return nil, err
		}
	}
	delete(d.docs, id)
	if e.Persistent() && d.store != nil {
		d.store.Delete(id)
	}
	return e, nil
}
