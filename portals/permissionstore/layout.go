package permissionstore

import (
	"slices"

	"github.com/porthole-dev/porthole/internal/gvariant"
	"github.com/porthole-dev/porthole/internal/gvdb"
)

// history replays xdg-permission-store's bookkeeping so that a table file
// we write has the same bytes as the one it would write after the same
// calls in one process lifetime. Its file layout depends on the order in
// which ids and apps reach gvdb's writer, and that order comes from GLib
// hash tables filled as changes arrive (order of first change, then the
// ids of the file loaded at start), not from the contents alone. The
// "apps" index it writes is likewise derived incrementally: additions and
// removals per app on top of the loaded file's index.
type history struct {
	touched    []string // ids in order of first change since the table was loaded
	touchedSet map[string]bool
	fileIDs    []string // ids of the loaded file, in item order
	fileApps   []string // apps of the loaded file's index, in item order
	fileAppIDs map[string][]string
	addOrder   []string // apps in order of their first addition
	additions  map[string][]string
	removals   map[string][]string
}

func newHistory() history {
	return history{
		touchedSet: make(map[string]bool),
		fileAppIDs: make(map[string][]string),
		additions:  make(map[string][]string),
		removals:   make(map[string][]string),
	}
}

// loadIndex records the loaded file's id order and apps index.
func (h *history) loadIndex(mainNames []string, apps *gvdb.Table) {
	h.fileIDs = mainNames
	h.fileApps = apps.Names()
	for _, app := range h.fileApps {
		v, err := apps.Value(app)
		if err == nil && v.Type().String() == "as" {
			h.fileAppIDs[app] = v.StringSlice()
		}
	}
}

// activeApps lists e's apps with a non-empty permission list, sorted.
func activeApps(e *entry) []string {
	var out []string
	if e != nil {
		for _, a := range e.apps {
			if len(a.perms) > 0 {
				out = append(out, a.app)
			}
		}
	}
	slices.Sort(out)
	return out
}

// change records that id went from old to new (nil: absent).
func (h *history) change(id string, old, new *entry) {
	if !h.touchedSet[id] {
		h.touchedSet[id] = true
		h.touched = append(h.touched, id)
	}
	a, b := activeApps(old), activeApps(new)
	for len(a) > 0 || len(b) > 0 {
		switch {
		case len(a) == 0 || (len(b) > 0 && a[0] > b[0]):
			h.addApp(b[0], id)
			b = b[1:]
		case len(b) == 0 || a[0] < b[0]:
			h.removeApp(a[0], id)
			a = a[1:]
		default:
			a, b = a[1:], b[1:]
		}
	}
}

// removeFast deletes element i by moving the last element into its place
// (g_ptr_array_remove_index_fast).
func removeFast(s []string, i int) []string {
	s[i] = s[len(s)-1]
	return s[:len(s)-1]
}

func (h *history) addApp(app, id string) {
	if r := h.removals[app]; r != nil {
		if i := slices.Index(r, id); i >= 0 {
			h.removals[app] = removeFast(r, i)
		}
	}
	if add, ok := h.additions[app]; ok {
		if !slices.Contains(add, id) {
			h.additions[app] = append(add, id)
		}
		return
	}
	h.additions[app] = []string{id}
	h.addOrder = append(h.addOrder, app)
}

func (h *history) removeApp(app, id string) {
	if add, ok := h.additions[app]; ok {
		if i := slices.Index(add, id); i >= 0 {
			h.additions[app] = removeFast(add, i)
		}
	}
	if r, ok := h.removals[app]; ok {
		if !slices.Contains(r, id) {
			h.removals[app] = append(r, id)
		}
		return
	}
	h.removals[app] = []string{id}
}

// ids lists the table's ids in xdg-permission-store's order: changed ids
// (in GLib hash order) that still exist, then the loaded file's ids that
// were never changed.
func (h *history) ids(exists func(string) bool) []string {
	var out []string
	for _, id := range gvdb.GLibOrder(h.touched) {
		if exists(id) {
			out = append(out, id)
		}
	}
	for _, id := range h.fileIDs {
		if !h.touchedSet[id] && exists(id) {
			out = append(out, id)
		}
	}
	return out
}

// apps lists the apps of the index in xdg-permission-store's order.
func (h *history) apps() []string {
	var out []string
	for _, app := range gvdb.GLibOrder(h.addOrder) {
		if len(h.additions[app]) > 0 {
			out = append(out, app)
		}
	}
	for _, app := range h.fileApps {
		if len(h.additions[app]) > 0 {
			continue // listed above
		}
		removed := h.removals[app]
		for _, id := range h.fileAppIDs[app] {
			if !slices.Contains(removed, id) {
				out = append(out, app)
				break
			}
		}
	}
	return out
}

// appIDs lists the indexed ids of app, sorted. Like upstream it may list
// an id twice when it was removed from and added back to a loaded entry.
func (h *history) appIDs(app string) []string {
	out := slices.Clone(h.additions[app])
	removed := h.removals[app]
	for _, id := range h.fileAppIDs[app] {
		if !slices.Contains(removed, id) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// encodeTable lays out the table file as xdg-permission-store does.
// Callers hold t.mu.
func (t *table) encode() []byte {
	root := gvdb.NewHashTable()
	mainH := root.SetTable("main")
	appsH := root.SetTable("apps")
	for _, id := range t.hist.ids(func(id string) bool { return t.entries[id] != nil }) {
		mainH.SetValue(id, t.entries[id].encode())
	}
	for _, app := range t.hist.apps() {
		if ids := t.hist.appIDs(app); len(ids) > 0 {
			appsH.SetValue(app, gvariant.Strings(ids))
		}
	}
	return root.Bytes()
}
