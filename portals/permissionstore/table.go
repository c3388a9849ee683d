package permissionstore

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/porthole-dev/porthole/internal/gvariant"
	"github.com/porthole-dev/porthole/internal/gvdb"
)

// On-disk layout of a table file (the one xdg-permission-store uses): a
// GVDB root with two nested tables. "main" maps each id to an entry of type
// (va{sas}): the data and the per-app permissions, sorted by app. "apps"
// maps each app that has a non-empty permission list in some entry to the
// sorted ids of those entries.
var (
	entryType = gvariant.MustType("(va{sas})")
	permType  = gvariant.MustType("{sas}")
)

// appPerms is one app's permission list within an entry.
type appPerms struct {
	app   string
	perms []string
}

// entry is one id's record. Entries are immutable once stored in a table;
// changes build a new entry.
type entry struct {
	data gvariant.Value
	apps []appPerms // in stored order; sorted when written by a store
}

// defaultData is the data of an entry created by SetPermission.
var defaultData = gvariant.Byte(0)

// withPerms returns a copy of e where app has perms: inserted before the
// first app that sorts after it, replacing any app of the same name
// (the list stays sorted when it was sorted).
func (e *entry) withPerms(app string, perms []string) *entry {
	n := &entry{data: e.data, apps: make([]appPerms, 0, len(e.apps)+1)}
	added := false
	np := appPerms{app, slices.Clone(perms)}
	for _, a := range e.apps {
		switch {
		case app == a.app:
			added = true
			n.apps = append(n.apps, np)
		case app < a.app:
			if !added {
				added = true
				n.apps = append(n.apps, np)
			}
			n.apps = append(n.apps, a)
		default:
			n.apps = append(n.apps, a)
		}
	}
	if !added {
		n.apps = append(n.apps, np)
	}
	return n
}

// withoutApp returns a copy of e without app.
func (e *entry) withoutApp(app string) *entry {
	n := &entry{data: e.data}
	for _, a := range e.apps {
		if a.app != app {
			n.apps = append(n.apps, a)
		}
	}
	return n
}

// permissions returns app's permissions (nil when it has none).
func (e *entry) permissions(app string) []string {
	for _, a := range e.apps {
		if a.app == app {
			return a.perms
		}
	}
	return nil
}

// permissionMap is what Lookup and Changed report: apps with a non-empty
// permission list.
func (e *entry) permissionMap() map[string][]string {
	m := make(map[string][]string, len(e.apps))
	for _, a := range e.apps {
		if len(a.perms) > 0 {
			m[a.app] = a.perms
		}
	}
	return m
}

func (e *entry) encode() gvariant.Value {
	perms := make([]gvariant.Value, len(e.apps))
	for i, a := range e.apps {
		perms[i] = gvariant.DictEntry(gvariant.String(a.app), gvariant.Strings(a.perms))
	}
	return gvariant.Tuple(gvariant.Variant(e.data), gvariant.Array(permType, perms...))
}

func decodeEntry(v gvariant.Value) (*entry, error) {
	if !v.Type().Equal(entryType) {
		return nil, fmt.Errorf("entry of type %s, want %s", v.Type(), entryType)
	}
	e := &entry{data: v.Index(0).Unbox()}
	perms := v.Index(1)
	for i := range perms.Len() {
		p := perms.Index(i)
		e.apps = append(e.apps, appPerms{p.Index(0).Str(), p.Index(1).StringSlice()})
	}
	return e, nil
}

// table is one permission table: its entries in memory and its file.
type table struct {
	name string
	path string

	mu      sync.Mutex // guards entries, gen
	entries map[string]*entry
	hist    history // guarded by mu
	gen     uint64  // incremented by every change

	wmu   sync.Mutex // serialises writes to the file
	saved uint64     // gen last made durable (guarded by wmu)
}

func newTable(name, path string) *table {
	return &table{name: name, path: path, entries: make(map[string]*entry), hist: newHistory()}
}

// loadTable reads the table file at path; a missing file is an empty
// table. Entries that cannot be decoded are skipped (and reported in
// skipped), as are ids listed in the file whose item is unreadable.
func loadTable(name, path string) (t *table, skipped []string, err error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return newTable(name, path), nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	return parseTable(name, path, data)
}

// parseTable decodes the contents of a table file.
func parseTable(name, path string, data []byte) (t *table, skipped []string, err error) {
	t = newTable(name, path)
	root, err := gvdb.Open(data)
	if err != nil {
		return nil, nil, err
	}
	main, ok := root.Table("main")
	if !ok {
		return nil, nil, errors.New("no main table in db")
	}
	apps, ok := root.Table("apps")
	if !ok {
		return nil, nil, errors.New("no app table in db")
	}
	names := main.Names()
	t.hist.loadIndex(names, apps)
	for _, id := range names {
		v, err := main.Value(id)
		if err != nil {
			skipped = append(skipped, id)
			continue
		}
		e, err := decodeEntry(v)
		if err != nil {
			skipped = append(skipped, id)
			continue
		}
		t.entries[id] = e
	}
	return t, skipped, nil
}

// sync makes every change up to now durable. Concurrent callers share
// one write: a caller that finds its changes already written by another
// returns at once (group commit).
func (t *table) sync() error {
	t.mu.Lock()
	want := t.gen
	t.mu.Unlock()

	t.wmu.Lock()
	defer t.wmu.Unlock()
	if t.saved >= want {
		return nil
	}
	t.mu.Lock()
	data, gen := t.encode(), t.gen
	t.mu.Unlock()
	if err := writeFileDurable(t.path, data); err != nil {
		return err
	}
	t.saved = gen
	return nil
}

// writeFileDurable replaces path with data so that after it returns the
// new contents survive a crash: write a temporary file in the same
// directory, fsync it, rename it over path, fsync the directory.
func writeFileDurable(path string, data []byte) error {
	dir, base := filepath.Split(path)
	// Like g_file_replace_contents: a hidden temporary name, mode 0666
	// minus the umask.
	var f *os.File
	var err error
	for range 100 {
		f, err = os.OpenFile(filepath.Join(dir, "."+base+"."+strconv.FormatUint(rand.Uint64()&0xffffff, 36)),
			os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_CLOEXEC, 0o666)
		if !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
