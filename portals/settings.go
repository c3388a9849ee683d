package portals

import (
	"context"
	"strings"
	"sync"

	"github.com/godbus/dbus/v5"

	"github.com/porthole-dev/porthole/internal/busconn"
)

// settingsPortal merges org.freedesktop.impl.portal.Settings over every
// configured backend; the first backend listed wins for a key.
//
// Read and ReadOne answer from a cache filled by earlier reads: backends
// announce every change with SettingChanged, which empties the cache
// before the frontend passes the signal on, as does a backend's bus name
// changing owner. A client that saw SettingChanged thus reads the new
// value; a read racing the change may still return the old one, as it may
// without the cache.
type settingsPortal struct {
	s    *Server
	objs []dbus.BusObject

	mu    sync.Mutex
	gen   uint64 // counts invalidations
	cache map[settingKey]settingValue
}

type settingKey struct{ ns, key string }

type settingValue struct {
	v     dbus.Variant
	found bool
	enc   *[2]busconn.FastReply // ReadOne's and Read's replies (fast.go)
}

// maxCachedSettings bounds the cache; clients may ask for any key.
const maxCachedSettings = 4096

// invalidate empties the cache (a backend changed a setting or went away).
func (p *settingsPortal) invalidate() {
	p.mu.Lock()
	p.gen++
	p.cache = nil
	p.mu.Unlock()
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

// ownerChanged empties the cache when a backend's name changes owner.
func (p *settingsPortal) ownerChanged(name string) {
	for _, o := range p.objs {
		if o.Destination() == name {
			p.invalidate()
			return
		}
	}
}

// ReadAll is org.freedesktop.portal.Settings.ReadAll.
func (p *settingsPortal) ReadAll(namespaces []string) (map[string]map[string]dbus.Variant, *dbus.Error) {
	return p.readAll(context.Background(), namespaces), nil
}

func (p *settingsPortal) readOne(ns, key string) (dbus.Variant, *dbus.Error) {
	k := settingKey{ns, key}
	p.mu.Lock()
	c, ok := p.cache[k]
	gen := p.gen
	p.mu.Unlock()
	if !ok {
		c = p.readBackends(ns, key)
		p.mu.Lock()
		// A change seen meanwhile may have made c stale: do not keep it.
		if p.gen == gen && len(p.cache) < maxCachedSettings {
			if p.cache == nil {
				p.cache = map[settingKey]settingValue{}
			}
			p.cache[k] = c
		}
		p.mu.Unlock()
	}
	if !c.found {
		return dbus.Variant{}, DBusError(errSettingNotFound)
	}
	return c.v, nil
}

// readBackends asks the backends in order; a backend failing (or not
// having the key) passes the question on.
func (p *settingsPortal) readBackends(ns, key string) settingValue {
	for _, o := range p.objs {
		if v, ok := bodyArg[dbus.Variant](o.Call(implSettings+".Read", 0, ns, key), 0); ok {
			return settingValue{v: normalizeVariant(v), found: true}
		}
	}
	return settingValue{}
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
			p.invalidate()
			_ = p.s.conn.Emit(DesktopPath, portalIface+"Settings.SettingChanged", sig.Body[0], sig.Body[1], normalizeVariant(v))
		})
	}
}
