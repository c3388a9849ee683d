package portals

import "github.com/godbus/dbus/v5"

// morePortals returns the remaining backend-driven portals whose backend
// is configured.
func (s *Server) morePortals(docs *busDocuments) []portalEntry {
	var list []portalEntry
	if obj := s.backendObject("Account"); obj != nil {
		list = append(list, portalEntry{"Account", 1, &account{s: s, impl: obj, docs: docs}})
	}
	if obj := s.backendObject("Email"); obj != nil {
		list = append(list, portalEntry{"Email", 4, &email{s: s, impl: obj}})
	}
	if obj := s.backendObject("Screenshot"); obj != nil {
		v := uint32(2)
		if p, err := obj.GetProperty(implPrefix + "Screenshot.version"); err == nil {
			if u, ok := p.Value().(uint32); ok {
				v = u
			}
		}
		list = append(list, portalEntry{"Screenshot", v, &screenshot{s: s, impl: obj, docs: docs, implVersion: v}})
	}
	if obj := s.backendObject("Wallpaper"); obj != nil {
		list = append(list, portalEntry{"Wallpaper", 1, &wallpaper{s: s, impl: obj}})
	}
	if obj := s.backendObject("Print"); obj != nil {
		list = append(list, portalEntry{"Print", 3, &printPortal{s: s, impl: obj}})
	}
	if obj := s.backendObject("Inhibit"); obj != nil {
		p := &inhibit{s: s, impl: obj}
		p.watch()
		list = append(list, portalEntry{"Inhibit", 3, p})
	}
	if obj := s.backendObject("Notification"); obj != nil {
		v := uint32(1)
		if p, err := obj.GetProperty(implPrefix + "Notification.version"); err == nil {
			if u, ok := p.Value().(uint32); ok {
				v = u
			}
		}
		p := &notificationPortal{s: s, impl: obj, implVersion: v, getenv: s.getenv}
		p.init()
		list = append(list, portalEntry{"Notification", 2, p})
	}
	if obj := s.backendObject("Background"); obj != nil {
		p := &background{s: s, getenv: s.getenv, status: map[string]string{}}
		p.startMonitor(obj)
		list = append(list, portalEntry{"Background", 2, p})
	}
	if obj := s.backendObject("AppChooser"); obj != nil {
		list = append(list, portalEntry{"OpenURI", 5, &openURI{s: s, impl: obj, db: desktopDB{getenv: s.getenv}, docs: docs}})
	}
	if obj := s.backendObject("RemoteDesktop"); obj != nil {
		p := &remoteDesktop{s: s, impl: obj, iface: implPrefix + "RemoteDesktop"}
		types := uint32(0)
		if v, err := obj.GetProperty(implPrefix + "RemoteDesktop.AvailableDeviceTypes"); err == nil {
			types, _ = v.Value().(uint32)
		}
		s.props.add(portalIface+"RemoteDesktop", "AvailableDeviceTypes", func() dbus.Variant { return dbus.MakeVariant(types) })
		list = append(list, portalEntry{"RemoteDesktop", 2, p})
	}
	list = append(list, portalEntry{"Location", 1, &location{s: s, byClient: map[dbus.ObjectPath]*Session{}}})
	return list
}
