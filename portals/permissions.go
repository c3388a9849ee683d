package portals

import (
	"context"
	"strings"

	"github.com/godbus/dbus/v5"
)

// Permission values of the simple tables.
const (
	permUnset = ""
	permYes   = "yes"
	permNo    = "no"
	permAsk   = "ask"
)

const (
	storeName  = "org.freedesktop.impl.portal.PermissionStore"
	storePath  = dbus.ObjectPath("/org/freedesktop/impl/portal/PermissionStore")
	storeIface = "org.freedesktop.impl.portal.PermissionStore"
)

// permissions returns the permission list of app in table/id, nil when
// there is none (or the store is not running).
func (s *Server) permissions(ctx context.Context, table, id, app string) []string {
	var perms map[string][]string
	var data dbus.Variant
	if err := s.conn.Object(storeName, storePath).CallWithContext(ctx, storeIface+".Lookup", 0, table, id).Store(&perms, &data); err != nil {
		return nil
	}
	return perms[app]
}

// permission returns the first word of app's permissions (yes/no/ask) or
// permUnset.
func (s *Server) permission(ctx context.Context, table, id, app string) string {
	p := s.permissions(ctx, table, id, app)
	if len(p) == 0 {
		return permUnset
	}
	return strings.ToLower(p[0])
}

// setPermission stores perms for app in table/id, creating the entry.
func (s *Server) setPermission(ctx context.Context, table, id, app string, perms ...string) error {
	return s.conn.Object(storeName, storePath).CallWithContext(ctx, storeIface+".SetPermission", 0, table, true, id, app, perms).Err
}
