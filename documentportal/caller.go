package documentportal

import (
	"errors"
	"fmt"
	"sync"

	"github.com/godbus/dbus/v5"
	"github.com/porthole-dev/porthole/internal/appinfo"
)

// TestAppIDEnv is xdg-desktop-portal 1.20's test hook: when set, every
// caller is a host app with this id.
const TestAppIDEnv = "XDG_DESKTOP_PORTAL_TEST_APP_ID"

// caller identifies the peer of a method call. Immutable once built.
type caller struct {
	// appID is "" for unidentified host processes.
	appID string
	// host callers are trusted: all permissions, O_PATH fds writable.
	host bool
	// Paths from .flatpak-info, to map sandbox paths to host paths.
	appPath, runtimePath string
}

// callers caches caller identities by unique bus name until the name
// disappears.
type callers struct {
	conn   *dbus.Conn
	testID string

	mu    sync.Mutex
	cache map[string]*caller
}

func (cs *callers) forget(name string) {
	cs.mu.Lock()
	delete(cs.cache, name)
	cs.mu.Unlock()
}

func (cs *callers) of(sender dbus.Sender) (*caller, error) {
	if cs.testID != "" {
		return &caller{appID: cs.testID, host: true}, nil
	}
	name := string(sender)
	cs.mu.Lock()
	c, ok := cs.cache[name]
	cs.mu.Unlock()
	if ok {
		return c, nil
	}
	var pid uint32
	err := cs.conn.BusObject().Call("org.freedesktop.DBus.GetConnectionUnixProcessID", 0, name).Store(&pid)
	if err != nil {
		return nil, fmt.Errorf("%w: cannot find the process of %s: %v", ErrAccessDenied, name, err)
	}
	c, err = callerOfPID(int(pid))
	if err != nil {
		return nil, fmt.Errorf("%w: Portal operation not allowed: %v", ErrAccessDenied, err)
	}
	cs.mu.Lock()
	cs.cache[name] = c
	cs.mu.Unlock()
	return c, nil
}

// callerOfPID tells a flatpak-sandboxed process (with /.flatpak-info in its
// root) from a host process.
func callerOfPID(pid int) (*caller, error) {
	data, err := appinfo.ReadPIDData(pid)
	if errors.Is(err, appinfo.ErrNotSandboxed) {
		return &caller{host: true}, nil
	}
	if err != nil {
		return nil, err
	}
	info, _, err := appinfo.Parse(data)
	if err != nil {
		return nil, err
	}
	if !ValidAppID(info.Name) {
		return nil, fmt.Errorf("invalid app id %q in .flatpak-info of pid %d", info.Name, pid)
	}
	if info.InstanceID == "" {
		return nil, fmt.Errorf(".flatpak-info of pid %d has no instance-id", pid)
	}
	return &caller{appID: info.Name, appPath: info.AppPath, runtimePath: info.RuntimePath}, nil
}
