package portals

import (
	"context"

	"github.com/godbus/dbus/v5"
)

// remoteDesktop is org.freedesktop.portal.RemoteDesktop: sessions created,
// configured and started through impl.RemoteDesktop, input events
// forwarded once a session has started. Screen cast sources and restore
// tokens are passed through to the backend unchecked.
type remoteDesktop struct {
	s     *Server
	impl  dbus.BusObject
	iface string
}

type rdState struct {
	devicesSelected bool
	started         bool
}

var (
	rdCreateOptions = optionTypes{"handle_token": "s", "session_handle_token": "s"}
	rdSelectOptions = optionTypes{"handle_token": "s", "types": "u", "restore_token": "s", "persist_mode": "u"}
	rdStartOptions  = optionTypes{"handle_token": "s"}
)

func (p *remoteDesktop) session(msg *dbus.Message, path dbus.ObjectPath) (*Session, *rdState, *AppInfo, error) {
	c, app, err := p.s.appInfo(msg)
	if err != nil {
		return nil, nil, nil, err
	}
	ss, err := p.s.lookupSession(c, path)
	if err != nil {
		return nil, nil, nil, wrapf(ErrAccessDenied, "Invalid session")
	}
	ss.mu.Lock()
	st, _ := ss.data.(*rdState)
	ss.mu.Unlock()
	if st == nil {
		return nil, nil, nil, wrapf(ErrAccessDenied, "Invalid session")
	}
	return ss, st, app, nil
}

// CreateSession is RemoteDesktop.CreateSession; results carry session_handle.
func (p *remoteDesktop) CreateSession(msg dbus.Message, opts map[string]dbus.Variant) (dbus.ObjectPath, *dbus.Error) {
	c, app, err := p.s.appInfo(&msg)
	if err != nil {
		return "", DBusError(err)
	}
	if err := rdCreateOptions.check(opts); err != nil {
		return "", DBusError(err)
	}
	ss, err := p.s.newSession(c, app, opts)
	if err != nil {
		return "", DBusError(err)
	}
	ss.mu.Lock()
	ss.data, ss.implDest = &rdState{}, p.impl.Destination()
	ss.mu.Unlock()
	r, err := p.s.newRequest(c, &msg, opts)
	if err != nil {
		ss.close(false)
		return "", DBusError(err)
	}
	r.Run(func(ctx context.Context) (uint32, map[string]dbus.Variant) {
		code, _, err := r.backendResponse(ctx, p.impl, p.iface+".CreateSession", r.path, ss.path, app.ID, map[string]dbus.Variant{})
		if err != nil || code != ResponseSuccess {
			ss.close(false)
			if err != nil {
				code = ResponseOther
			}
			return code, nil
		}
		return code, map[string]dbus.Variant{"session_handle": dbus.MakeVariant(string(ss.path))}
	})
	return r.path, nil
}

// SelectDevices is RemoteDesktop.SelectDevices.
func (p *remoteDesktop) SelectDevices(msg dbus.Message, session dbus.ObjectPath, opts map[string]dbus.Variant) (dbus.ObjectPath, *dbus.Error) {
	ss, st, _, err := p.session(&msg, session)
	if err != nil {
		return "", DBusError(err)
	}
	return p.s.startRequest(&msg, opts, rdSelectOptions, true, func(*AppInfo) error {
		if st.started {
			return wrapf(ErrFailed, "Invalid state")
		}
		return nil
	}, func(ctx context.Context, r *Request, app *AppInfo, fwd map[string]dbus.Variant) (uint32, map[string]dbus.Variant) {
		code, _, err := r.backendResponse(ctx, p.impl, p.iface+".SelectDevices", r.path, ss.path, app.ID, fwd)
		if err != nil {
			return ResponseOther, nil
		}
		if code == ResponseSuccess {
			ss.mu.Lock()
			st.devicesSelected = true
			ss.mu.Unlock()
		}
		return code, nil
	})
}

// Start is RemoteDesktop.Start.
func (p *remoteDesktop) Start(msg dbus.Message, session dbus.ObjectPath, parent string, opts map[string]dbus.Variant) (dbus.ObjectPath, *dbus.Error) {
	ss, st, _, err := p.session(&msg, session)
	if err != nil {
		return "", DBusError(err)
	}
	return p.s.startRequest(&msg, opts, rdStartOptions, true, func(*AppInfo) error {
		if st.started {
			return wrapf(ErrFailed, "Invalid state")
		}
		return nil
	}, func(ctx context.Context, r *Request, app *AppInfo, fwd map[string]dbus.Variant) (uint32, map[string]dbus.Variant) {
		code, res, err := r.backendResponse(ctx, p.impl, p.iface+".Start", r.path, ss.path, app.ID, parent, fwd)
		if err != nil {
			return ResponseOther, nil
		}
		if code != ResponseSuccess {
			ss.close(false)
			return code, nil
		}
		ss.mu.Lock()
		st.started = true
		ss.mu.Unlock()
		return code, optionTypes{"devices": "u", "clipboard_enabled": "b", "streams": "a(ua{sv})", "restore_token": "s"}.filter(res)
	})
}

// notify forwards an input event of a started session to the backend.
func (p *remoteDesktop) notify(msg *dbus.Message, session dbus.ObjectPath, method string, opts map[string]dbus.Variant, args ...any) *dbus.Error {
	ss, st, _, err := p.session(msg, session)
	if err != nil {
		return DBusError(err)
	}
	ss.mu.Lock()
	started := st.started
	ss.mu.Unlock()
	if !started {
		return DBusError(wrapf(ErrFailed, "Session is not allowed to call Notify methods"))
	}
	fwd := optionTypes{"finish": "b"}.filter(opts)
	p.impl.Go(p.iface+"."+method, dbus.FlagNoReplyExpected, nil, append([]any{ss.path, fwd}, args...)...)
	return nil
}

// NotifyPointerMotion is RemoteDesktop.NotifyPointerMotion.
func (p *remoteDesktop) NotifyPointerMotion(msg dbus.Message, s dbus.ObjectPath, o map[string]dbus.Variant, dx, dy float64) *dbus.Error {
	return p.notify(&msg, s, "NotifyPointerMotion", o, dx, dy)
}

// NotifyPointerMotionAbsolute is RemoteDesktop.NotifyPointerMotionAbsolute.
func (p *remoteDesktop) NotifyPointerMotionAbsolute(msg dbus.Message, s dbus.ObjectPath, o map[string]dbus.Variant, stream uint32, x, y float64) *dbus.Error {
	return p.notify(&msg, s, "NotifyPointerMotionAbsolute", o, stream, x, y)
}

// NotifyPointerButton is RemoteDesktop.NotifyPointerButton.
func (p *remoteDesktop) NotifyPointerButton(msg dbus.Message, s dbus.ObjectPath, o map[string]dbus.Variant, button int32, state uint32) *dbus.Error {
	return p.notify(&msg, s, "NotifyPointerButton", o, button, state)
}

// NotifyPointerAxis is RemoteDesktop.NotifyPointerAxis.
func (p *remoteDesktop) NotifyPointerAxis(msg dbus.Message, s dbus.ObjectPath, o map[string]dbus.Variant, dx, dy float64) *dbus.Error {
	return p.notify(&msg, s, "NotifyPointerAxis", o, dx, dy)
}

// NotifyPointerAxisDiscrete is RemoteDesktop.NotifyPointerAxisDiscrete.
func (p *remoteDesktop) NotifyPointerAxisDiscrete(msg dbus.Message, s dbus.ObjectPath, o map[string]dbus.Variant, axis uint32, steps int32) *dbus.Error {
	return p.notify(&msg, s, "NotifyPointerAxisDiscrete", o, axis, steps)
}

// NotifyKeyboardKeycode is RemoteDesktop.NotifyKeyboardKeycode.
func (p *remoteDesktop) NotifyKeyboardKeycode(msg dbus.Message, s dbus.ObjectPath, o map[string]dbus.Variant, keycode int32, state uint32) *dbus.Error {
	return p.notify(&msg, s, "NotifyKeyboardKeycode", o, keycode, state)
}

// NotifyKeyboardKeysym is RemoteDesktop.NotifyKeyboardKeysym.
func (p *remoteDesktop) NotifyKeyboardKeysym(msg dbus.Message, s dbus.ObjectPath, o map[string]dbus.Variant, keysym int32, state uint32) *dbus.Error {
	return p.notify(&msg, s, "NotifyKeyboardKeysym", o, keysym, state)
}

// NotifyTouchDown is RemoteDesktop.NotifyTouchDown.
func (p *remoteDesktop) NotifyTouchDown(msg dbus.Message, s dbus.ObjectPath, o map[string]dbus.Variant, stream, slot uint32, x, y float64) *dbus.Error {
	return p.notify(&msg, s, "NotifyTouchDown", o, stream, slot, x, y)
}

// NotifyTouchMotion is RemoteDesktop.NotifyTouchMotion.
func (p *remoteDesktop) NotifyTouchMotion(msg dbus.Message, s dbus.ObjectPath, o map[string]dbus.Variant, stream, slot uint32, x, y float64) *dbus.Error {
	return p.notify(&msg, s, "NotifyTouchMotion", o, stream, slot, x, y)
}

// NotifyTouchUp is RemoteDesktop.NotifyTouchUp.
func (p *remoteDesktop) NotifyTouchUp(msg dbus.Message, s dbus.ObjectPath, o map[string]dbus.Variant, slot uint32) *dbus.Error {
	return p.notify(&msg, s, "NotifyTouchUp", o, slot)
}

// ConnectToEIS is RemoteDesktop.ConnectToEIS (version 2): the backend's
// EIS socket fd for a started session.
func (p *remoteDesktop) ConnectToEIS(msg dbus.Message, session dbus.ObjectPath, opts map[string]dbus.Variant) (dbus.UnixFDIndex, *dbus.Error) {
	ss, st, app, err := p.session(&msg, session)
	if err != nil {
		return 0, DBusError(err)
	}
	ss.mu.Lock()
	started := st.started
	ss.mu.Unlock()
	if !started {
		return 0, DBusError(wrapf(ErrFailed, "Session is not started"))
	}
	call := p.impl.Call(p.iface+".ConnectToEIS", 0, ss.path, app.ID, map[string]dbus.Variant{})
	// The backend's descriptor is passed on as received (busconn keeps it
	// until this reply is sent, then closes our copy).
	h, ok := bodyArg[dbus.UnixFDIndex](call, 0)
	if !ok {
		return 0, DBusError(wrapf(ErrFailed, "Failed to connect to EIS: %v", call.Err))
	}
	fd, ok := p.s.bus.TakeFD(h)
	if !ok {
		return 0, DBusError(wrapf(ErrFailed, "Failed to connect to EIS: no descriptor"))
	}
	return p.s.bus.ReplyFD(&msg, fd), nil
}
