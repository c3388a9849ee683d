package documentportal

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"
)

// The permission store the documents table lives in.
const (
	storeName  = "org.freedesktop.impl.portal.PermissionStore"
	storePath  = dbus.ObjectPath("/org/freedesktop/impl/portal/PermissionStore")
	storeIface = "org.freedesktop.impl.portal.PermissionStore"
	tableName  = "documents"
)

// busStore writes the documents table through the permission store's
// D-Bus API. Writes are sent in call order without waiting for replies,
// like upstream's; flush waits for the replies.
type busStore struct {
	conn *dbus.Conn
	log  *slog.Logger
	wg   sync.WaitGroup
}

var _ persister = (*busStore)(nil)

func (s *busStore) call(method string, args ...any) {
	s.wg.Add(1)
	ch := make(chan *dbus.Call, 1)
	s.conn.Object(storeName, storePath).Go(storeIface+"."+method, 0, ch, args...)
	go func() {
		defer s.wg.Done()
		if c := <-ch; c.Err != nil {
			s.log.Warn("permission store call failed", "method", method, "err", c.Err)
		}
	}()
}

func (s *busStore) Set(e *Entry) {
	s.call("Set", tableName, true, e.ID, map[string][]string{}, e.Data())
}

func (s *busStore) SetPermission(id, app string, p Perm) {
	s.call("SetPermission", tableName, false, id, app, p.Strings())
}

func (s *busStore) Delete(id string) {
	s.call("Delete", tableName, id)
}

// flush waits up to d for the replies to every write sent so far.
func (s *busStore) flush(d time.Duration) {
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
	}
}

// load reads every entry of the documents table. Entries whose data does
// not decode are skipped (and logged).
func (s *busStore) load(ctx context.Context) ([]*Entry, error) {
	obj := s.conn.Object(storeName, storePath)
	var ids []string
	if err := obj.CallWithContext(ctx, storeIface+".List", 0, tableName).Store(&ids); err != nil {
		return nil, fmt.Errorf("listing the %s table: %w", tableName, err)
	}
	sort.Strings(ids)
	var out []*Entry
	for _, id := range ids {
		var apps map[string][]string
		var data dbus.Variant
		if err := obj.CallWithContext(ctx, storeIface+".Lookup", 0, tableName, id).Store(&apps, &data); err != nil {
			s.log.Warn("cannot read document", "id", id, "err", err)
			continue
		}
		e, err := DecodeData(data)
		if err != nil {
			s.log.Warn("cannot decode document", "id", id, "err", err)
			continue
		}
		e.ID = id
		e.Apps = permsFromStore(apps)
		out = append(out, &e)
	}
	return out, nil
}

// permsFromStore converts a stored permission table; unknown strings are
// ignored, as upstream does when it reads its table.
func permsFromStore(apps map[string][]string) map[string]Perm {
	out := make(map[string]Perm, len(apps))
	for app, names := range apps {
		var p Perm
		for _, n := range names {
			if q, err := ParsePerms([]string{n}); err == nil {
				p |= q
			}
		}
		if p != 0 {
			out[app] = p
		}
	}
	return out
}
