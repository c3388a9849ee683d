package portals

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/introspect"
	"golang.org/x/sys/unix"
)

// background is org.freedesktop.portal.Background: the "background"
// permission and autostart files.
type background struct {
	s       *Server
	getenv  Env
	monitor *bgMonitor // nil until started

	mu     sync.Mutex
	status map[string]string // app id → status message
}

var backgroundOptions = optionTypes{"handle_token": "s", "reason": "s", "autostart": "b", "commandline": "as", "dbus-activatable": "b"}

func checkBackgroundOptions(opts map[string]dbus.Variant) error {
	if s, _ := opts["reason"].Value().(string); len([]rune(s)) > 256 {
		return wrapf(ErrInvalidArgument, "Not accepting overly long reasons")
	}
	if cl, ok := opts["commandline"].Value().([]string); ok {
		if len(cl) == 0 || len(cl) > 100 {
			return wrapf(ErrInvalidArgument, "Commandline can't be empty or have more than 100 arguments")
		}
		if len([]rune(cl[0])) > 256 {
			return wrapf(ErrInvalidArgument, "Not accepting overly long commandlines")
		}
	}
	return nil
}

// RequestBackground is Background.RequestBackground.
func (p *background) RequestBackground(msg dbus.Message, parent string, opts map[string]dbus.Variant) (dbus.ObjectPath, *dbus.Error) {
	return p.s.startRequest(&msg, opts, backgroundOptions, true, func(*AppInfo) error { return checkBackgroundOptions(opts) },
		func(ctx context.Context, r *Request, app *AppInfo, fwd map[string]dbus.Variant) (uint32, map[string]dbus.Variant) {
			reason := optString(opts, "reason")
			autostart := optBool(opts, "autostart", false)
			var allowed bool
			perm := permYes
			if !app.IsHost() {
				perm = p.s.permission(ctx, "background", "background", app.ID)
			}
			if perm == permAsk {
				sub := reason
				if sub == "" {
					sub = fmt.Sprintf("%s requests to run in the background.", app.ID)
				}
				code := p.s.accessDialog(ctx, r, app, "", fmt.Sprintf("Allow %s to run in the background?", app.ID), sub,
					"The ‘run in background’ permission can be changed at any time from the application settings.",
					map[string]dbus.Variant{"deny_label": dbus.MakeVariant("Don't allow"), "grant_label": dbus.MakeVariant("Allow")})
				allowed = code == ResponseSuccess
			} else {
				allowed = perm != permNo
				if perm == permUnset {
					_ = p.s.setPermission(ctx, "background", "background", app.ID, permYes)
				}
			}
			cl, _ := opts["commandline"].Value().([]string)
			enabled, err := p.autostart(app, allowed && autostart, cl, optBool(opts, "dbus-activatable", false))
			if err != nil {
				p.s.log.Warn("cannot update autostart", "app", app.ID, "err", err)
			}
			code := ResponseSuccess
			if !allowed {
				code = ResponseCancelled
			}
			return code, map[string]dbus.Variant{"background": dbus.MakeVariant(allowed), "autostart": dbus.MakeVariant(enabled)}
		})
}

// autostart writes or removes $XDG_CONFIG_HOME/autostart/APPID.desktop.
func (p *background) autostart(app *AppInfo, enable bool, cmdline []string, activatable bool) (bool, error) {
	if app.ID == "" {
		return false, fmt.Errorf("autostart needs an app id")
	}
	dir := p.getenv("XDG_CONFIG_HOME")
	if dir == "" {
		dir = filepath.Join(p.getenv("HOME"), ".config")
	}
	dir = filepath.Join(dir, "autostart")
	path := filepath.Join(dir, app.ID+".desktop")
	if !enable {
		_ = os.Remove(path)
		return false, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, err
	}
	var b strings.Builder
	b.WriteString("[Desktop Entry]\nType=Application\n")
	fmt.Fprintf(&b, "Name=%s\nX-XDP-Autostart=%s\n", escapeKeyValue(app.ID), escapeKeyValue(app.ID))
	if len(cmdline) > 0 {
		exec := strings.Join(cmdline, " ")
		if app.Kind == KindFlatpak {
			args := []string{"flatpak", "run", "--command=" + shellQuote(cmdline[0]), app.ID}
			for _, a := range cmdline[1:] {
				args = append(args, shellQuote(a))
			}
			exec = strings.Join(args, " ")
		}
		fmt.Fprintf(&b, "Exec=%s\n", escapeKeyValue(exec))
	}
	if activatable {
		b.WriteString("DBusActivatable=true\n")
	}
	if app.Kind == KindFlatpak {
		fmt.Fprintf(&b, "X-Flatpak=%s\n", escapeKeyValue(app.ID))
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return false, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return false, err
	}
	return true, nil
}

func escapeKeyValue(s string) string {
	s = strings.NewReplacer("\\", `\\`, "\n", `\n`, "\t", `\t`, "\r", `\r`).Replace(s)
	if strings.HasPrefix(s, " ") {
		s = `\s` + s[1:]
	}
	return s
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// SetStatus is Background.SetStatus (version 2).
func (p *background) SetStatus(msg dbus.Message, opts map[string]dbus.Variant) *dbus.Error {
	_, app, err := p.s.appInfo(&msg)
	if err != nil {
		return DBusError(err)
	}
	if err := (optionTypes{"message": "s"}).check(opts); err != nil {
		return DBusError(err)
	}
	if app.IsHost() {
		return DBusError(wrapf(ErrNotAllowed, "Only sandboxed applications can set background status"))
	}
	m := optString(opts, "message")
	if len([]rune(m)) > 96 {
		return DBusError(wrapf(ErrInvalidArgument, "Status message is longer than 96 characters"))
	}
	p.mu.Lock()
	p.status[app.ID] = m
	p.mu.Unlock()
	if p.monitor != nil {
		p.monitor.publish()
	}
	return nil
}

// Background monitoring, as upstream does it: when woken (at start, when
// the backend signals RunningApplicationsChanged, when sandbox instances
// come or go) the monitor checks the running instances twice, a pause
// apart. An app the backend reports in the background (or does not list)
// at a check after the one that first saw it is killed if its
// "background" permission is no, and announced to the backend with
// NotifyBackground if it is unset or ask; the user's answer (0 forbid,
// 1 allow, 2 allow once) is stored unless the permission is ask, and
// forbid kills the app.

// backgroundInterval is the pause before each check; the test hook
// PORTHOLE_TEST_BACKGROUND_INTERVAL (a Go duration) overrides it.
const backgroundInterval = 5 * time.Second

// App states of impl.Background.GetAppState.
const appBackground = 0

// NotifyBackground results.
const (
	bgForbid = 0
	bgAllow  = 1
)

// bgInstance is a sandbox instance the monitor has seen.
type bgInstance struct {
	appID    string
	childPid int
	stamp    int
	state    uint32
	notified bool
}

type bgMonitor struct {
	s        *Server
	p        *background
	impl     dbus.BusObject
	getenv   Env
	interval time.Duration
	wake     chan struct{}

	mu    sync.Mutex
	stamp int
	seen  map[string]*bgInstance // by instance id
	apps  []map[string]dbus.Variant
}

// The org.freedesktop.background.Monitor service: the apps found in the
// background, for desktop shells.
const (
	bgMonitorName  = "org.freedesktop.background.Monitor"
	bgMonitorPath  = dbus.ObjectPath("/org/freedesktop/background/monitor")
	bgMonitorIface = "org.freedesktop.background.Monitor"
)

// startMonitor starts watching the sandboxed apps in the background.
func (p *background) startMonitor(impl dbus.BusObject) {
	m := &bgMonitor{s: p.s, p: p, impl: impl, getenv: p.getenv, interval: backgroundInterval,
		wake: make(chan struct{}, 1), seen: map[string]*bgInstance{}, apps: []map[string]dbus.Variant{}}
	p.monitor = m
	m.export()
	if d, err := time.ParseDuration(p.getenv("PORTHOLE_TEST_BACKGROUND_INTERVAL")); err == nil {
		m.interval = d
	}
	p.s.watchSignals(p.s.conn, impl.Destination(), implPrefix+"Background", func(sig *dbus.Signal) {
		if sig.Name == implPrefix+"Background.RunningApplicationsChanged" {
			m.poke()
		}
	})
	m.watchInstances()
	m.poke()
	go m.run()
}

func (m *bgMonitor) poke() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

func (m *bgMonitor) run() {
	for {
		select {
		case <-m.s.closed:
			return
		case <-m.wake:
		}
		// Twice, so that an app that just started gets time for its window.
		for range 2 {
			select {
			case <-m.s.closed:
				return
			case <-time.After(m.interval):
			}
			m.check(context.Background())
		}
	}
}

// instanceDir is $XDG_RUNTIME_DIR/.flatpak, where flatpak and porthole run
// keep one directory per running sandbox.
func (m *bgMonitor) instanceDir() string {
	dir := m.getenv("XDG_RUNTIME_DIR")
	if dir == "" {
		dir = fmt.Sprintf("/run/user/%d", os.Getuid())
	}
	return filepath.Join(dir, ".flatpak")
}

// watchInstances wakes the monitor when instance directories come or go.
func (m *bgMonitor) watchInstances() {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	if err != nil {
		return
	}
	if _, err := unix.InotifyAddWatch(fd, m.instanceDir(), unix.IN_CREATE|unix.IN_DELETE|unix.IN_MOVED_FROM|unix.IN_MOVED_TO|unix.IN_ONLYDIR); err != nil {
		unix.Close(fd)
		return
	}
	f := os.NewFile(uintptr(fd), "inotify")
	go func() {
		<-m.s.closed
		f.Close()
	}()
	go func() {
		buf := make([]byte, 4096)
		for {
			if _, err := f.Read(buf); err != nil {
				return
			}
			m.poke()
		}
	}()
}

// runningInstance is one live sandbox.
type runningInstance struct {
	id, appID string
	childPid  int
}

// instances lists the live sandboxes: a directory with info (the
// .flatpak-info), pid (the launcher, alive) and bwrapinfo.json (child-pid).
func (m *bgMonitor) instances() []runningInstance {
	base := m.instanceDir()
	ents, _ := os.ReadDir(base)
	var out []runningInstance
	for _, e := range ents {
		dir := filepath.Join(base, e.Name())
		data, err := os.ReadFile(filepath.Join(dir, "pid"))
		if err != nil {
			continue
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
		if pid <= 0 || unix.Kill(pid, 0) == unix.ESRCH {
			continue
		}
		var bi struct {
			ChildPid int `json:"child-pid"`
		}
		if data, err := os.ReadFile(filepath.Join(dir, "bwrapinfo.json")); err == nil {
			_ = json.Unmarshal(data, &bi)
		}
		data, err = os.ReadFile(filepath.Join(dir, "info"))
		if err != nil {
			continue
		}
		info, err := parseFlatpakInfo(data)
		if err != nil || info.ID == "" {
			continue
		}
		out = append(out, runningInstance{id: e.Name(), appID: info.ID, childPid: bi.ChildPid})
	}
	return out
}

// check looks at every running instance once.
func (m *bgMonitor) check(ctx context.Context) {
	call := m.impl.CallWithContext(ctx, implPrefix+"Background.GetAppState", 0)
	states, ok := bodyArg[map[string]dbus.Variant](call, 0)
	if !ok {
		return
	}
	m.mu.Lock()
	m.stamp++
	stamp := m.stamp
	m.mu.Unlock()
	for _, in := range m.instances() {
		m.mu.Lock()
		d := m.seen[in.id]
		isNew := d == nil
		if isNew {
			d = &bgInstance{appID: in.appID, childPid: in.childPid}
			m.seen[in.id] = d
		}
		state, _ := states[in.appID].Value().(uint32) // not listed: background
		d.stamp = stamp
		d.state = state
		notified := d.notified
		m.mu.Unlock()
		if state != appBackground || notified || isNew {
			continue
		}
		switch perm := m.s.permission(ctx, "background", "background", in.appID); perm {
		case permNo:
			m.s.log.Info("killing app without permission to run in the background", "app", in.appID, "pid", in.childPid)
			m.kill(in.childPid)
			m.mu.Lock()
			d.stamp = 0
			m.mu.Unlock()
		case permYes:
		default:
			m.mu.Lock()
			d.notified = true
			m.mu.Unlock()
			handle := dbus.ObjectPath(fmt.Sprintf("/org/freedesktop/portal/desktop/notify/background%d", stamp))
			go m.notify(ctx, handle, in, perm)
		}
	}
	m.mu.Lock()
	for id, d := range m.seen {
		if d.stamp != stamp {
			delete(m.seen, id)
		}
	}
	m.mu.Unlock()
	m.publish()
}

// publish updates BackgroundApps: the instances last seen in the
// background, with the status message their app set.
func (m *bgMonitor) publish() {
	m.p.mu.Lock()
	status := map[string]string{}
	for k, v := range m.p.status {
		status[k] = v
	}
	m.p.mu.Unlock()
	m.mu.Lock()
	ids := make([]string, 0, len(m.seen))
	for id := range m.seen {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	apps := []map[string]dbus.Variant{}
	for _, id := range ids {
		d := m.seen[id]
		if d.state != appBackground {
			continue
		}
		app := map[string]dbus.Variant{"app_id": dbus.MakeVariant(d.appID), "instance": dbus.MakeVariant(id)}
		if msg, ok := status[d.appID]; ok {
			app["message"] = dbus.MakeVariant(msg)
		}
		apps = append(apps, app)
	}
	changed := fmt.Sprint(apps) != fmt.Sprint(m.apps)
	m.apps = apps
	m.mu.Unlock()
	if changed {
		_ = m.s.conn.Emit(bgMonitorPath, "org.freedesktop.DBus.Properties.PropertiesChanged", bgMonitorIface,
			map[string]dbus.Variant{"BackgroundApps": dbus.MakeVariant(apps)}, []string{})
	}
}

// export serves the monitor object and owns its bus name.
func (m *bgMonitor) export() {
	m.s.rt.export(bgMonitorProps{m}, bgMonitorPath, "org.freedesktop.DBus.Properties")
	node := &introspect.Node{Interfaces: []introspect.Interface{introspect.IntrospectData, propertiesData, {
		Name: bgMonitorIface,
		Properties: []introspect.Property{
			{Name: "BackgroundApps", Type: "aa{sv}", Access: "read"},
			{Name: "version", Type: "u", Access: "read"},
		},
	}}}
	m.s.rt.export(introspect.NewIntrospectable(node), bgMonitorPath, "org.freedesktop.DBus.Introspectable")
	if _, err := m.s.conn.RequestName(bgMonitorName, dbus.NameFlagReplaceExisting|dbus.NameFlagDoNotQueue); err != nil {
		m.s.log.Warn("cannot own "+bgMonitorName, "err", err)
	}
}

type bgMonitorProps struct{ m *bgMonitor }

func (o bgMonitorProps) GetAll(iface string) (map[string]dbus.Variant, *dbus.Error) {
	if iface != bgMonitorIface {
		return nil, dbus.MakeFailedError(fmt.Errorf("no interface %s", iface))
	}
	o.m.mu.Lock()
	defer o.m.mu.Unlock()
	return map[string]dbus.Variant{"BackgroundApps": dbus.MakeVariant(o.m.apps), "version": dbus.MakeVariant(uint32(1))}, nil
}

func (o bgMonitorProps) Get(iface, name string) (dbus.Variant, *dbus.Error) {
	all, err := o.GetAll(iface)
	if err != nil {
		return dbus.Variant{}, err
	}
	v, ok := all[name]
	if !ok {
		return dbus.Variant{}, dbus.NewError("org.freedesktop.DBus.Error.UnknownProperty", []any{"No such property " + name})
	}
	return v, nil
}

func (o bgMonitorProps) Set(iface, name string, v dbus.Variant) *dbus.Error {
	return dbus.NewError("org.freedesktop.DBus.Error.PropertyReadOnly", []any{name + " is read-only"})
}

// notify asks the backend about an app found in the background and acts
// on the answer.
func (m *bgMonitor) notify(ctx context.Context, handle dbus.ObjectPath, in runningInstance, perm string) {
	call := m.impl.CallWithContext(ctx, implPrefix+"Background.NotifyBackground", 0, handle, in.appID, in.appID)
	res, ok := bodyArg[map[string]dbus.Variant](call, 1)
	if !ok {
		m.s.log.Warn("background backend failed", "err", call.Err)
		return
	}
	result, ok := res["result"].Value().(uint32)
	if !ok {
		result = 2 // allow this time
	}
	switch result {
	case bgAllow:
		if perm != permAsk {
			perm = permYes
		}
	case bgForbid:
		if perm != permAsk {
			perm = permNo
		}
		m.s.log.Info("killing app: the user forbade it to run in the background", "app", in.appID, "pid", in.childPid)
		m.kill(in.childPid)
	}
	if perm != permUnset {
		_ = m.s.setPermission(ctx, "background", "background", in.appID, perm)
	}
}

func (m *bgMonitor) kill(pid int) {
	if pid > 1 {
		_ = unix.Kill(pid, unix.SIGKILL)
	}
}
