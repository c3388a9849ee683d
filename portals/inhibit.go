package portals

import (
	"context"

	"github.com/godbus/dbus/v5"
)

// Inhibit flags.
const (
	inhibitLogout     = 1
	inhibitUserSwitch = 2
	inhibitSuspend    = 4
	inhibitIdle       = 8
	inhibitAll        = 15
)

// inhibit is org.freedesktop.portal.Inhibit.
type inhibit struct {
	s    *Server
	impl dbus.BusObject
}

var inhibitOptions = optionTypes{"handle_token": "s", "reason": "s"}

// allowedInhibit reads the "inhibit" table: a list of allowed words; no
// entry allows everything.
func (p *inhibit) allowed(ctx context.Context, appID string) uint32 {
	perms := p.s.permissions(ctx, "inhibit", "inhibit", appID)
	if perms == nil {
		return inhibitAll
	}
	var ret uint32
	for _, w := range perms {
		switch w {
		case "logout":
			ret |= inhibitLogout
		case "switch":
			ret |= inhibitUserSwitch
		case "suspend":
			ret |= inhibitSuspend
		case "idle":
			ret |= inhibitIdle
		}
	}
	return ret
}

// Inhibit is Inhibit.Inhibit. The Request stays exported after its
// Response; closing it ends the inhibition.
func (p *inhibit) Inhibit(msg dbus.Message, window string, flags uint32, opts map[string]dbus.Variant) (dbus.ObjectPath, *dbus.Error) {
	c, app, err := p.s.appInfo(&msg)
	if err != nil {
		return "", DBusError(err)
	}
	if flags&^inhibitAll != 0 {
		return "", DBusError(wrapf(ErrInvalidArgument, "Invalid flags"))
	}
	fwd := inhibitOptions.filter(opts, "handle_token")
	if s, _ := fwd["reason"].Value().(string); len([]rune(s)) > 256 {
		delete(fwd, "reason")
	}
	r, err := p.s.newRequest(c, &msg, opts)
	if err != nil {
		return "", DBusError(err)
	}
	go func() {
		ctx := r.ctx
		f := flags & p.allowed(ctx, app.ID)
		if f == 0 {
			return // nothing to inhibit: no backend call and no Response
		}
		r.mu.Lock()
		r.implDest = p.impl.Destination()
		r.mu.Unlock()
		call := p.impl.CallWithContext(ctx, implPrefix+"Inhibit.Inhibit", 0, r.path, app.ID, window, f, fwd)
		code := ResponseSuccess
		if call.Err != nil {
			code = ResponseOther
		}
		r.respondAndKeep(code, nil)
	}()
	return r.path, nil
}

// CreateMonitor is Inhibit.CreateMonitor; results carry session_handle.
func (p *inhibit) CreateMonitor(msg dbus.Message, window string, opts map[string]dbus.Variant) (dbus.ObjectPath, *dbus.Error) {
	c, app, err := p.s.appInfo(&msg)
	if err != nil {
		return "", DBusError(err)
	}
	ss, err := p.s.newSession(c, app, opts)
	if err != nil {
		return "", DBusError(err)
	}
	ss.implDest = p.impl.Destination()
	r, err := p.s.newRequest(c, &msg, opts)
	if err != nil {
		ss.close(false)
		return "", DBusError(err)
	}
	r.Run(func(ctx context.Context) (uint32, map[string]dbus.Variant) {
		call := r.callBackend(ctx, p.impl, implPrefix+"Inhibit.CreateMonitor", r.path, ss.path, app.ID, window)
		code, ok := bodyArg[uint32](call, 0)
		if !ok {
			code = ResponseOther
		}
		if code != ResponseSuccess {
			ss.close(false)
		}
		return code, map[string]dbus.Variant{"session_handle": dbus.MakeVariant(string(ss.path))}
	})
	return r.path, nil
}

// QueryEndResponse is Inhibit.QueryEndResponse.
func (p *inhibit) QueryEndResponse(msg dbus.Message, session dbus.ObjectPath) *dbus.Error {
	c, _, err := p.s.appInfo(&msg)
	if err != nil {
		return DBusError(err)
	}
	if _, err := p.s.lookupSession(c, session); err != nil {
		return DBusError(wrapf(ErrAccessDenied, "Invalid session"))
	}
	p.impl.Go(implPrefix+"Inhibit.QueryEndResponse", dbus.FlagNoReplyExpected, nil, session)
	return nil
}

func (p *inhibit) watch() {
	p.s.watchSignals(p.s.conn, p.impl.Destination(), implPrefix+"Inhibit", func(sig *dbus.Signal) {
		if sig.Name != implPrefix+"Inhibit.StateChanged" || len(sig.Body) != 2 {
			return
		}
		path, _ := sig.Body[0].(dbus.ObjectPath)
		state, _ := sig.Body[1].(map[string]dbus.Variant)
		p.s.mu.Lock()
		ss, _ := p.s.objects[path].(*Session)
		p.s.mu.Unlock()
		if ss == nil {
			return
		}
		_ = p.s.sendTo(ss.c.name, DesktopPath, portalIface+"Inhibit.StateChanged", path, normalizeMap(state))
	})
}
