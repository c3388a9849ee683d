package portals

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"
)

// location is org.freedesktop.portal.Location over GeoClue2 on the
// system bus, with the "location" permission table.
type location struct {
	s *Server

	mu       sync.Mutex
	byClient map[dbus.ObjectPath]*Session // GeoClue client path → session
	watching bool
}

const geoclueName = "org.freedesktop.GeoClue2"

// GeoClue accuracy levels by portal level (0..5) and by table word.
var (
	geoclueLevels = []uint32{0, 1, 4, 5, 6, 8}
	accuracyWords = []string{"NONE", "COUNTRY", "CITY", "NEIGHBORHOOD", "STREET", "EXACT"}
)

type locationSettings struct {
	distance, time uint32
	accuracy       int // index into geoclueLevels
}

var locationOptions = optionTypes{"session_handle_token": "s", "distance-threshold": "u", "time-threshold": "u", "accuracy": "u"}

// CreateSession is Location.CreateSession.
func (p *location) CreateSession(msg dbus.Message, opts map[string]dbus.Variant) (dbus.ObjectPath, *dbus.Error) {
	c, app, err := p.s.appInfo(&msg)
	if err != nil {
		return "", DBusError(err)
	}
	if p.s.lockdown.get("disable-location") {
		return "", DBusError(wrapf(ErrNotAllowed, "Location services disabled"))
	}
	if err := locationOptions.check(opts); err != nil {
		return "", DBusError(err)
	}
	set := &locationSettings{accuracy: 5}
	set.distance, _ = optUint(opts, "distance-threshold")
	set.time, _ = optUint(opts, "time-threshold")
	if a, ok := optUint(opts, "accuracy"); ok {
		if a > 5 {
			return "", DBusError(wrapf(ErrInvalidArgument, "Invalid accuracy level"))
		}
		set.accuracy = int(a)
	}
	ss, err := p.s.newSession(c, app, opts)
	if err != nil {
		return "", DBusError(err)
	}
	ss.mu.Lock()
	ss.data = set
	ss.mu.Unlock()
	return ss.path, nil
}

var startOptions = optionTypes{"handle_token": "s"}

// Start is Location.Start.
func (p *location) Start(msg dbus.Message, session dbus.ObjectPath, parent string, opts map[string]dbus.Variant) (dbus.ObjectPath, *dbus.Error) {
	c, _, err := p.s.appInfo(&msg)
	if err != nil {
		return "", DBusError(err)
	}
	if p.s.lockdown.get("disable-location") {
		return "", DBusError(wrapf(ErrNotAllowed, "Location services disabled"))
	}
	ss, err := p.s.lookupSession(c, session)
	if err != nil {
		return "", DBusError(err)
	}
	ss.mu.Lock()
	set, _ := ss.data.(*locationSettings)
	ss.mu.Unlock()
	if set == nil {
		return "", DBusError(wrapf(ErrInvalidArgument, "Invalid session"))
	}
	return p.s.startRequest(&msg, opts, startOptions, true, nil, func(ctx context.Context, r *Request, app *AppInfo, fwd map[string]dbus.Variant) (uint32, map[string]dbus.Variant) {
		level, ok := p.permission(ctx, app)
		if !ok {
			name := appName(app, "Applications")
			title := fmt.Sprintf("Give %s Access to Your Location?", name)
			if app.ID == "" {
				title = "Grant Access to Your Location?"
			}
			code := p.s.accessDialog(ctx, r, app, parent, title, fmt.Sprintf("%s wants to use your location.", appName(app, "An application")),
				"Location access can be changed at any time from the privacy settings.",
				map[string]dbus.Variant{"deny_label": dbus.MakeVariant("Deny Access"), "grant_label": dbus.MakeVariant("Grant Access"), "icon": dbus.MakeVariant("find-location-symbolic")})
			if code == ResponseOther {
				return ResponseOther, nil // no dialog could be shown: nothing decided
			}
			level = 0
			if code == ResponseSuccess {
				level = 5
			}
		}
		last := "0"
		if level > 0 {
			last = strconv.FormatInt(time.Now().UnixMicro(), 10)
		}
		_ = p.s.setPermission(ctx, "location", "location", app.ID, accuracyWords[level], last)
		if level == 0 {
			return ResponseCancelled, nil
		}
		if level < set.accuracy {
			set.accuracy = level
		}
		if err := p.startGeoclue(ctx, ss, app, set); err != nil {
			p.s.log.Warn("cannot start GeoClue", "err", err)
			return ResponseOther, nil
		}
		return ResponseSuccess, nil
	})
}

// permission returns the stored accuracy level of app; host apps get
// EXACT. ok is false when nothing is stored (ask the user).
func (p *location) permission(ctx context.Context, app *AppInfo) (int, bool) {
	if app.IsHost() {
		return 5, true
	}
	perms := p.s.permissions(ctx, "location", "location", app.ID)
	if len(perms) == 0 {
		return 0, false
	}
	for i, w := range accuracyWords {
		if w == perms[0] {
			return i, true
		}
	}
	return 0, true
}

func (p *location) startGeoclue(ctx context.Context, ss *Session, app *AppInfo, set *locationSettings) error {
	if p.s.sys == nil {
		return fmt.Errorf("no system bus")
	}
	p.watch()
	var client dbus.ObjectPath
	if err := p.s.sys.Object(geoclueName, "/org/freedesktop/GeoClue2/Manager").CallWithContext(ctx, geoclueName+".Manager.GetClient", 0).Store(&client); err != nil {
		return fmt.Errorf("getting a GeoClue client: %w", err)
	}
	obj := p.s.sys.Object(geoclueName, client)
	desktopID := app.ID
	if desktopID == "" {
		desktopID = "xdg-desktop-portal"
	}
	for k, v := range map[string]any{"DesktopId": desktopID, "DistanceThreshold": set.distance, "TimeThreshold": set.time, "RequestedAccuracyLevel": geoclueLevels[set.accuracy]} {
		if err := obj.CallWithContext(ctx, "org.freedesktop.DBus.Properties.Set", 0, geoclueName+".Client", k, dbus.MakeVariant(v)).Err; err != nil {
			p.s.log.Warn("cannot set GeoClue client property", "property", k, "err", err)
		}
	}
	p.mu.Lock()
	p.byClient[client] = ss
	p.mu.Unlock()
	ss.mu.Lock()
	ss.onClose = func() {
		p.mu.Lock()
		delete(p.byClient, client)
		p.mu.Unlock()
		obj.Go(geoclueName+".Client.Stop", dbus.FlagNoReplyExpected, nil)
	}
	ss.mu.Unlock()
	if err := obj.CallWithContext(ctx, geoclueName+".Client.Start", 0).Err; err != nil {
		return fmt.Errorf("starting GeoClue: %w", err)
	}
	return nil
}

// watch subscribes once to GeoClue's LocationUpdated signals.
func (p *location) watch() {
	p.mu.Lock()
	if p.watching {
		p.mu.Unlock()
		return
	}
	p.watching = true
	p.mu.Unlock()
	ch := make(chan *dbus.Signal, 64)
	p.s.sys.Signal(ch)
	_ = p.s.sys.AddMatchSignal(dbus.WithMatchInterface(geoclueName+".Client"), dbus.WithMatchMember("LocationUpdated"))
	go func() {
		for sig := range ch {
			if sig.Name != geoclueName+".Client.LocationUpdated" || len(sig.Body) != 2 {
				continue
			}
			p.mu.Lock()
			ss := p.byClient[sig.Path]
			p.mu.Unlock()
			loc, _ := sig.Body[1].(dbus.ObjectPath)
			if ss == nil || loc == "/" {
				continue
			}
			call := p.s.sys.Object(geoclueName, loc).Call("org.freedesktop.DBus.Properties.GetAll", 0, geoclueName+".Location")
			props, ok := bodyArg[map[string]dbus.Variant](call, 0)
			if !ok {
				continue
			}
			_ = p.s.sendTo(ss.c.name, DesktopPath, portalIface+"Location.LocationUpdated", ss.path, normalizeMap(props))
		}
	}()
}
