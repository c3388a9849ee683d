package portals

import (
	"sync"

	"github.com/godbus/dbus/v5"
)

// lockdown mirrors the boolean properties of impl.portal.Lockdown; all
// are false without a backend.
type lockdown struct {
	mu sync.Mutex
	m  map[string]bool
}

func (l *lockdown) get(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.m[key]
}

func (l *lockdown) set(props map[string]dbus.Variant) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string]bool{}
	}
	for k, v := range props {
		if b, ok := v.Value().(bool); ok {
			l.m[k] = b
		}
	}
}

func (s *Server) loadLockdown() {
	obj := s.backendObject("Lockdown")
	if obj == nil {
		return
	}
	var props map[string]dbus.Variant
	if err := obj.Call("org.freedesktop.DBus.Properties.GetAll", 0, implPrefix+"Lockdown").Store(&props); err == nil {
		s.lockdown.set(props)
	}
	s.watchSignals(s.conn, obj.Destination(), "org.freedesktop.DBus.Properties", func(sig *dbus.Signal) {
		if len(sig.Body) >= 2 && sig.Body[0] == implPrefix+"Lockdown" {
			if m, ok := sig.Body[1].(map[string]dbus.Variant); ok {
				s.lockdown.set(m)
			}
		}
	})
}
