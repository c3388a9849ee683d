package portals

import (
	"fmt"

	"github.com/godbus/dbus/v5"
)

// registry is org.freedesktop.host.portal.Registry: a host app names
// itself before its first portal call.
type registry struct{ s *Server }

// Register is Registry.Register.
func (p registry) Register(msg dbus.Message, appID string, opts map[string]dbus.Variant) *dbus.Error {
	c, _ := p.s.callerFor(senderOf(&msg))
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.info != nil || c.registered != "" {
		return DBusError(fmt.Errorf("%w: Could not register app ID: Connection already associated with an application ID", ErrFailed))
	}
	info, err := p.s.identify(c.ctx, c.name, appID)
	if err != nil {
		return DBusError(fmt.Errorf("%w: Could not register app ID: %v", ErrFailed, err))
	}
	if !info.IsHost() {
		return DBusError(fmt.Errorf("%w: Could not register app ID: Can't manually register a %s application", ErrFailed, info.Kind))
	}
	if info.ID != appID {
		return DBusError(fmt.Errorf("%w: Registered app ID doesn't match", ErrInvalidArgument))
	}
	c.registered = appID
	c.info = info
	return nil
}
