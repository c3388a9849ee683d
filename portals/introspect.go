package portals

import (
	"encoding/xml"
	"io/fs"
	"sort"
	"strings"
	"sync"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/introspect"
	dbusinterfaces "github.com/porthole-dev/porthole/data/dbus-interfaces"
)

// introspector serves org.freedesktop.DBus.Introspectable from the
// interface XML in data/dbus-interfaces.
type introspector struct {
	known map[string]introspect.Interface

	mu       sync.Mutex
	exported []string // interfaces on the desktop object
}

func newIntrospector() *introspector {
	in := &introspector{known: map[string]introspect.Interface{}}
	files, _ := fs.Glob(dbusinterfaces.Portal, "*.xml")
	for _, f := range files {
		data, err := dbusinterfaces.Portal.ReadFile(f)
		if err != nil {
			continue
		}
		var n introspect.Node
		if xml.Unmarshal(data, &n) != nil {
			continue
		}
		for _, i := range n.Interfaces {
			in.known[i.Name] = i
		}
	}
	return in
}

// add records that iface is exported on the desktop object.
func (in *introspector) add(iface string) {
	in.mu.Lock()
	in.exported = append(in.exported, iface)
	in.mu.Unlock()
}

func (in *introspector) node(ifaces ...string) *introspect.Node {
	n := &introspect.Node{Interfaces: []introspect.Interface{introspect.IntrospectData, propertiesData}}
	sort.Strings(ifaces)
	for _, i := range ifaces {
		if d, ok := in.known[i]; ok {
			n.Interfaces = append(n.Interfaces, d)
		}
	}
	return n
}

func (in *introspector) export(rt *router, path dbus.ObjectPath) error {
	in.mu.Lock()
	ifaces := append([]string(nil), in.exported...)
	in.mu.Unlock()
	n := in.node(ifaces...)
	rt.export(introspect.NewIntrospectable(n), path, "org.freedesktop.DBus.Introspectable")
	// Parent nodes, so that tools can walk down to the desktop object.
	parts := strings.Split(strings.TrimPrefix(string(path), "/"), "/")
	for i := 0; i < len(parts); i++ {
		p := "/" + strings.Join(parts[:i], "/")
		child := &introspect.Node{Interfaces: []introspect.Interface{introspect.IntrospectData}, Children: []introspect.Node{{Name: parts[i]}}}
		rt.export(introspect.NewIntrospectable(child), dbus.ObjectPath(p), "org.freedesktop.DBus.Introspectable")
	}
	return nil
}

func (in *introspector) exportNode(rt *router, path dbus.ObjectPath, iface string) error {
	rt.export(introspect.NewIntrospectable(in.node(iface)), path, "org.freedesktop.DBus.Introspectable")
	return nil
}

func (in *introspector) unexportNode(rt *router, path dbus.ObjectPath) {
	rt.export(nil, path, "org.freedesktop.DBus.Introspectable")
}

var propertiesData = introspect.Interface{
	Name: "org.freedesktop.DBus.Properties",
	Methods: []introspect.Method{
		{Name: "Get", Args: []introspect.Arg{{Name: "interface_name", Type: "s", Direction: "in"}, {Name: "property_name", Type: "s", Direction: "in"}, {Name: "value", Type: "v", Direction: "out"}}},
		{Name: "GetAll", Args: []introspect.Arg{{Name: "interface_name", Type: "s", Direction: "in"}, {Name: "props", Type: "a{sv}", Direction: "out"}}},
		{Name: "Set", Args: []introspect.Arg{{Name: "interface_name", Type: "s", Direction: "in"}, {Name: "property_name", Type: "s", Direction: "in"}, {Name: "value", Type: "v", Direction: "in"}}},
	},
	Signals: []introspect.Signal{{Name: "PropertiesChanged", Args: []introspect.Arg{{Name: "interface_name", Type: "s"}, {Name: "changed_properties", Type: "a{sv}"}, {Name: "invalidated_properties", Type: "as"}}}},
}
