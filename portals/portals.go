package portals

import (
	"context"
)

// exportPortal exports obj as org.freedesktop.portal.<name> on the
// desktop object with the given version property.
func (s *Server) exportPortal(obj any, name string, version uint32) error {
	iface := portalIface + name
	s.rt.export(obj, DesktopPath, iface)
	s.props.version(iface, version)
	s.intro.add(iface)
	return nil
}

// exportPortals exports every portal that needs no backend or whose
// backend is configured.
func (s *Server) exportPortals(ctx context.Context) error {
	s.loadLockdown()
	docs := &busDocuments{conn: s.conn, lend: s.bus.LendFD}

	var list []portalEntry

	if bes := s.backends.FindAll(implSettings); len(bes) > 0 {
		p := &settingsPortal{s: s}
		for _, be := range bes {
			p.objs = append(p.objs, s.conn.Object(be.DBusName, DesktopPath))
		}
		p.watch()
		s.settings.Store(p)
		list = append(list, portalEntry{"Settings", 2, p})
	}
	nm := &networkMonitor{s: s}
	if s.sys != nil {
		var has bool
		if s.sys.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, "org.freedesktop.NetworkManager").Store(&has) == nil && has {
			nm.nm = s.sys.Object("org.freedesktop.NetworkManager", "/org/freedesktop/NetworkManager")
		}
	}
	nm.watch()
	s.network.Store(nm)
	list = append(list, portalEntry{"NetworkMonitor", 3, nm})
	list = append(list, portalEntry{"ProxyResolver", 1, &proxyResolver{s: s, getenv: s.getenv}})
	list = append(list, portalEntry{"Trash", 1, trashPortal{s}})
	if obj := s.backendObject("FileChooser"); obj != nil {
		list = append(list, portalEntry{"FileChooser", 4, &fileChooser{s: s, impl: obj, docs: docs}})
	}
	list = append(list, s.morePortals(docs)...)

	for _, e := range list {
		if err := s.exportPortal(e.obj, e.name, e.version); err != nil {
			return err
		}
	}
	iface := "org.freedesktop.host.portal.Registry"
	s.rt.export(registry{s}, DesktopPath, iface)
	s.props.version(iface, 1)
	s.intro.add(iface)
	return nil
}

// morePortals returns the backend-driven portals beyond the essential
// ones (defined in their own files).
type portalEntry struct {
	name    string
	version uint32
	obj     any
}
