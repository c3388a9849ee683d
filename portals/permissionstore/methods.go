package permissionstore

import (
	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/introspect"

	"github.com/porthole-dev/porthole/internal/gvariant"
)

// methods is the exported D-Bus object: each method takes its turn from
// the sequencer, applies its change and announces it, leaves the sequence,
// and replies once the change is durable.
type methods Service

func (m *methods) begin(msg dbus.Message) (leave func()) {
	m.calls.Add(1)
	sender, _ := msg.Headers[dbus.FieldSender].Value().(string)
	l := m.seq.enter(sender, msg.Serial())
	m.opMu.Lock()
	return func() {
		m.opMu.Unlock()
		l()
	}
}

// modify runs op in sequence, announces its change and waits for it to be
// durable.
func (m *methods) modify(msg dbus.Message, op func() (*change, error)) *dbus.Error {
	leave := m.begin(msg)
	defer m.calls.Done()
	c, err := op()
	if err == nil {
		m.store.announce(c)
	}
	leave()
	if err != nil {
		return dbusError(err)
	}
	return dbusError(m.store.commit(c))
}

func (m *methods) Lookup(msg dbus.Message, table, id string) (map[string][]string, dbus.Variant, *dbus.Error) {
	leave := m.begin(msg)
	defer m.calls.Done()
	perms, data, err := m.store.Lookup(table, id)
	leave()
	if err != nil {
		return nil, dbus.Variant{}, dbusError(err)
	}
	v, err := toDBusVariant(data)
	if err != nil {
		return nil, dbus.Variant{}, dbusError(err)
	}
	return perms, v, nil
}

func (m *methods) List(msg dbus.Message, table string) ([]string, *dbus.Error) {
	leave := m.begin(msg)
	defer m.calls.Done()
	ids, err := m.store.List(table)
	leave()
	return ids, dbusError(err)
}

func (m *methods) GetPermission(msg dbus.Message, table, id, app string) ([]string, *dbus.Error) {
	leave := m.begin(msg)
	defer m.calls.Done()
	perms, err := m.store.GetPermission(table, id, app)
	leave()
	if perms == nil && err == nil {
		perms = []string{}
	}
	return perms, dbusError(err)
}

// data returns the data argument of a Set or SetValue call: decoded from
// the recorded raw body when there is one (dictionary order intact), else
// converted from godbus's decoding.
func (m *methods) data(msg dbus.Message, data dbus.Variant) (gvariant.Value, error) {
	sender, _ := msg.Headers[dbus.FieldSender].Value().(string)
	if raw, ok := m.rec.take(sender, msg.Serial()); ok {
		if v, err := lastArg(raw.body, raw.order, raw.sig); err == nil && v.Type().String() == "v" {
			return v.Unbox(), nil
		}
	}
	return fromDBusVariant(data, 0)
}

func (m *methods) Set(msg dbus.Message, table string, create bool, id string, appPermissions map[string][]string, data dbus.Variant) *dbus.Error {
	v, err := m.data(msg, data)
	if err != nil {
		return m.reject(msg, err)
	}
	return m.modify(msg, func() (*change, error) { return m.store.set(table, create, id, appPermissions, v) })
}

func (m *methods) SetValue(msg dbus.Message, table string, create bool, id string, data dbus.Variant) *dbus.Error {
	v, err := m.data(msg, data)
	if err != nil {
		return m.reject(msg, err)
	}
	return m.modify(msg, func() (*change, error) { return m.store.setValue(table, create, id, v) })
}

func (m *methods) SetPermission(msg dbus.Message, table string, create bool, id, app string, permissions []string) *dbus.Error {
	return m.modify(msg, func() (*change, error) { return m.store.setPermission(table, create, id, app, permissions) })
}

func (m *methods) Delete(msg dbus.Message, table, id string) *dbus.Error {
	return m.modify(msg, func() (*change, error) { return m.store.deleteEntry(table, id) })
}

func (m *methods) DeletePermission(msg dbus.Message, table, id, app string) *dbus.Error {
	return m.modify(msg, func() (*change, error) { return m.store.deletePermission(table, id, app) })
}

// reject answers a call whose arguments cannot be stored, after its turn
// (so later calls are not held up waiting for it).
func (m *methods) reject(msg dbus.Message, err error) *dbus.Error {
	leave := m.begin(msg)
	leave()
	m.calls.Done()
	return dbusError(err)
}

// Introspection describes the PermissionStore interface (the same as
// data/dbus-interfaces/org.freedesktop.impl.portal.PermissionStore.xml,
// which a test checks).
func Introspection() introspect.Interface {
	in := func(name, typ string) introspect.Arg { return introspect.Arg{Name: name, Type: typ, Direction: "in"} }
	out := func(name, typ string) introspect.Arg { return introspect.Arg{Name: name, Type: typ, Direction: "out"} }
	iface := introspect.Interface{
		Name: InterfaceName,
		Methods: []introspect.Method{
			{Name: "Lookup", Args: []introspect.Arg{in("table", "s"), in("id", "s"), out("permissions", "a{sas}"), out("data", "v")}},
			{Name: "Set", Args: []introspect.Arg{in("table", "s"), in("create", "b"), in("id", "s"), in("app_permissions", "a{sas}"), in("data", "v")}},
			{Name: "Delete", Args: []introspect.Arg{in("table", "s"), in("id", "s")}},
			{Name: "SetValue", Args: []introspect.Arg{in("table", "s"), in("create", "b"), in("id", "s"), in("data", "v")}},
			{Name: "SetPermission", Args: []introspect.Arg{in("table", "s"), in("create", "b"), in("id", "s"), in("app", "s"), in("permissions", "as")}},
			{Name: "DeletePermission", Args: []introspect.Arg{in("table", "s"), in("id", "s"), in("app", "s")}},
			{Name: "GetPermission", Args: []introspect.Arg{in("table", "s"), in("id", "s"), in("app", "s"), out("permissions", "as")}},
			{Name: "List", Args: []introspect.Arg{in("table", "s"), out("ids", "as")}},
		},
		Signals: []introspect.Signal{
			{Name: "Changed", Args: []introspect.Arg{out("table", "s"), out("id", "s"), out("deleted", "b"), out("data", "v"), out("permissions", "a{sas}")}},
		},
		Properties: []introspect.Property{{Name: "version", Type: "u", Access: "read"}},
	}
	return iface
}
