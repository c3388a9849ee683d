package portals

import (
	"context"
	"strings"

	"github.com/godbus/dbus/v5"
)

// settingsPortal merges org.freedesktop.impl.portal.Settings over every
// configured backend; the first backend listed wins for a key.
type settingsPortal struct {
	s    *Server
	objs []dbus.BusObject
}

const implSettings = implPrefix + "Settings"

func (p *settingsPortal) readAll(ctx context.Context, namespaces []string) map[string]map[string]dbus.Variant {
	out := map[string]map[string]dbus.Variant{}
	for _, o := range p.objs {
		call := o.CallWithContext(ctx, implSettings+".ReadAll", 0, namespaces)
		got, ok := bodyArg[map[string]map[string]dbus.Variant](call, 0)
		if !ok {
			p.s.log.Debug("settings backend failed", "backend", o.Destination(), "err", call.Err)
			continue
		}
		for ns, kv := range got {
			if out[ns] == nil {
				out[ns] = map[string]dbus.Variant{}
			}
			for k, v := range kv {
				if _, ok := out[ns][k]; !ok {
					out[ns][k] = normalizeVariant(v)
				}
			}
		}
	}
	return out
}

// ReadAll is org.freedesktop.portal.Settings.ReadAll.
func (p *settingsPortal) ReadAll(namespaces []string) (map[string]map[string]dbus.Variant, *dbus.Error) {
	return p.readAll(context.Background(), namespaces), nil
}

func (p *settingsPortal) readOne(ns, key string) (dbus.Variant, *dbus.Error) {
	for _, o := range p.objs {
		if v, ok := bodyArg[dbus.Variant](o.Call(implSettings+".Read", 0, ns, key), 0); ok {
			return normalizeVariant(v), nil
		}
	}
	return dbus.Variant{}, DBusError(errSettingNotFound)
}

var errSettingNotFound = wrapf(ErrNotFound, "Requested setting not found")

// Read is the deprecated Settings.Read: the value wrapped in two variants.
func (p *settingsPortal) Read(ns, key string) (dbus.Variant, *dbus.Error) {
	v, err := p.readOne(ns, key)
	if err != nil {
		return v, err
	}
	return dbus.MakeVariant(v), nil
}

// ReadOne is org.freedesktop.portal.Settings.ReadOne (version 2).
func (p *settingsPortal) ReadOne(ns, key string) (dbus.Variant, *dbus.Error) {
	return p.readOne(ns, key)
}

func (p *settingsPortal) watch() {
	for _, o := range p.objs {
		p.s.watchSignals(p.s.conn, o.Destination(), implSettings, func(sig *dbus.Signal) {
			if !strings.HasSuffix(sig.Name, ".SettingChanged") || len(sig.Body) != 3 {
				return
			}
			v, _ := sig.Body[2].(dbus.Variant)
			_ = p.s.conn.Emit(DesktopPath, portalIface+"Settings.SettingChanged", sig.Body[0], sig.Body[1], normalizeVariant(v))
		})
	}
}
