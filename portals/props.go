package portals

import (
	"fmt"
	"sync"

	"github.com/godbus/dbus/v5"
)

// properties serves org.freedesktop.DBus.Properties for the desktop object
// (read-only values computed on each Get) and for sessions.
type properties struct {
	s  *Server
	mu sync.Mutex
	m  map[string]map[string]func() dbus.Variant
}

func newProperties(s *Server) *properties {
	return &properties{s: s, m: map[string]map[string]func() dbus.Variant{}}
}

// add registers property name of iface on the desktop object.
func (p *properties) add(iface, name string, get func() dbus.Variant) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m[iface] == nil {
		p.m[iface] = map[string]func() dbus.Variant{}
	}
	p.m[iface][name] = get
}

func (p *properties) version(iface string, v uint32) {
	p.add(iface, "version", func() dbus.Variant { return dbus.MakeVariant(v) })
}

func (p *properties) export() error {
	p.s.rt.export(propsObject{p}, DesktopPath, "org.freedesktop.DBus.Properties")
	return nil
}

type propsObject struct{ p *properties }

func (o propsObject) Get(iface, name string) (dbus.Variant, *dbus.Error) {
	o.p.mu.Lock()
	get := o.p.m[iface][name]
	o.p.mu.Unlock()
	if get == nil {
		return dbus.Variant{}, dbus.NewError("org.freedesktop.DBus.Error.InvalidArgs", []any{fmt.Sprintf("No such property %s.%s", iface, name)})
	}
	return get(), nil
}

func (o propsObject) GetAll(iface string) (map[string]dbus.Variant, *dbus.Error) {
	o.p.mu.Lock()
	props := o.p.m[iface]
	out := make(map[string]dbus.Variant, len(props))
	for k, get := range props {
		out[k] = get()
	}
	o.p.mu.Unlock()
	return out, nil
}

func (o propsObject) Set(iface, name string, v dbus.Variant) *dbus.Error {
	return dbus.NewError("org.freedesktop.DBus.Error.PropertyReadOnly", []any{"properties are read-only"})
}

type sessionProps struct{}

func (sessionProps) Get(iface, name string) (dbus.Variant, *dbus.Error) {
	if iface == "org.freedesktop.portal.Session" && name == "version" {
		return dbus.MakeVariant(uint32(1)), nil
	}
	return dbus.Variant{}, dbus.NewError("org.freedesktop.DBus.Error.InvalidArgs", []any{"No such property"})
}

func (sessionProps) GetAll(iface string) (map[string]dbus.Variant, *dbus.Error) {
	if iface == "org.freedesktop.portal.Session" {
		return map[string]dbus.Variant{"version": dbus.MakeVariant(uint32(1))}, nil
	}
	return map[string]dbus.Variant{}, nil
}

func (sessionProps) Set(iface, name string, v dbus.Variant) *dbus.Error {
	return dbus.NewError("org.freedesktop.DBus.Error.PropertyReadOnly", []any{"properties are read-only"})
}

func (p *properties) exportSession(path dbus.ObjectPath) {
	p.s.rt.export(sessionProps{}, path, "org.freedesktop.DBus.Properties")
}

func (p *properties) unexportSession(path dbus.ObjectPath) {
	p.s.rt.export(nil, path, "org.freedesktop.DBus.Properties")
}
