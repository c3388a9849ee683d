package portals

import (
	"reflect"
	"sync"

	"github.com/godbus/dbus/v5"
)

// router is the connection's dbus.Handler. It replaces godbus's default
// handler because that one decodes a{sv} arguments through dbus.Store,
// which re-wraps variants holding structs as arrays (losing their type);
// router passes decoded arguments through unchanged when their Go type
// already matches the parameter.
type router struct {
	mu sync.RWMutex
	// objs maps a path to its interfaces. A serverObject is never changed
	// once stored (export replaces it), so lookups hand it out as is.
	objs map[dbus.ObjectPath]serverObject
}

func newRouter() *router {
	return &router{objs: map[dbus.ObjectPath]serverObject{}}
}

var (
	dbusErrorType = reflect.TypeOf((*dbus.Error)(nil))
	senderType    = reflect.TypeOf(dbus.Sender(""))
	messageType   = reflect.TypeOf(dbus.Message{})
)

// export makes the exported methods of obj (those whose last result is
// *dbus.Error) callable as iface at path; obj == nil removes iface.
func (r *router) export(obj any, path dbus.ObjectPath, iface string) {
	var methods map[string]dbus.Method
	if obj != nil {
		methods = map[string]dbus.Method{}
		v := reflect.ValueOf(obj)
		t := v.Type()
		for i := 0; i < t.NumMethod(); i++ {
			m := t.Method(i)
			ft := m.Type
			if ft.NumOut() == 0 || ft.Out(ft.NumOut()-1) != dbusErrorType {
				continue
			}
			fn := v.Method(i)
			methods[m.Name] = &method{fn: fn, typ: fn.Type()}
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.objs[path]
	next := make(serverObject, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	if methods == nil {
		delete(next, iface)
	} else {
		next[iface] = methods
	}
	if len(next) == 0 {
		delete(r.objs, path)
		return
	}
	r.objs[path] = next
}

func (r *router) LookupObject(path dbus.ObjectPath) (dbus.ServerObject, bool) {
	r.mu.RLock()
	o, ok := r.objs[path]
	r.mu.RUnlock()
	if !ok {
		return nil, false
	}
	return o, true
}

type serverObject map[string]map[string]dbus.Method

func (o serverObject) LookupInterface(name string) (dbus.Interface, bool) {
	if name == "" {
		merged := methodTable{}
		for _, ms := range o {
			for n, m := range ms {
				merged[n] = m
			}
		}
		return merged, true
	}
	ms, ok := o[name]
	return methodTable(ms), ok
}

type methodTable map[string]dbus.Method

func (t methodTable) LookupMethod(name string) (dbus.Method, bool) {
	m, ok := t[name]
	return m, ok
}

type method struct {
	fn  reflect.Value
	typ reflect.Type // fn.Type(), looked up once
}

func (m *method) DecodeArguments(conn *dbus.Conn, sender string, msg *dbus.Message, body []any) ([]any, error) {
	t := m.typ
	out := make([]any, t.NumIn())
	j := 0
	for i := 0; i < t.NumIn(); i++ {
		pt := t.In(i)
		p := reflect.New(pt)
		out[i] = p.Interface()
		switch pt {
		case senderType:
			p.Elem().SetString(sender)
			continue
		case messageType:
			p.Elem().Set(reflect.ValueOf(*msg))
			continue
		}
		if j >= len(body) {
			return nil, dbus.ErrMsgInvalidArg
		}
		bv := reflect.ValueOf(body[j])
		j++
		if bv.IsValid() && bv.Type().AssignableTo(pt) {
			p.Elem().Set(bv)
			continue
		}
		if err := dbus.Store([]any{body[j-1]}, p.Interface()); err != nil {
			return nil, dbus.ErrMsgInvalidArg
		}
	}
	if j != len(body) {
		return nil, dbus.ErrMsgInvalidArg
	}
	return out, nil
}

func (m *method) Call(args ...any) ([]any, error) {
	params := make([]reflect.Value, len(args))
	for i, a := range args {
		params[i] = reflect.ValueOf(a).Elem()
	}
	ret := m.fn.Call(params)
	last := ret[len(ret)-1]
	if !last.IsNil() {
		return nil, last.Interface().(*dbus.Error)
	}
	out := make([]any, len(ret)-1)
	for i := range out {
		out[i] = ret[i].Interface()
	}
	return out, nil
}

func (m *method) NumArguments() int { return m.typ.NumIn() }
func (m *method) NumReturns() int   { return m.typ.NumOut() - 1 }
func (m *method) ArgumentValue(i int) any {
	return reflect.Zero(m.typ.In(i)).Interface()
}
func (m *method) ReturnValue(i int) any {
	return reflect.Zero(m.typ.Out(i)).Interface()
}
