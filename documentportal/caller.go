package documentportal

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"

	"github.com/godbus/dbus/v5"
	"github.com/porthole-dev/porthole/internal/appinfo"
	"golang.org/x/sys/unix"
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
	rootPath := "/proc/" + strconv.Itoa(pid) + "/root"
	root, err := unix.Open(rootPath, unix.O_DIRECTORY|unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.EACCES) {
			var st unix.Statfs_t
			if unix.Statfs(rootPath, &st) == nil && st.Type == unix.FUSE_SUPER_MAGIC {
				return &caller{host: true}, nil
			}
		}
		return nil, fmt.Errorf("opening %s: %w", rootPath, err)
	}
	defer unix.Close(root)
	fd, err := unix.Openat(root, ".flatpak-info", unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
	if errors.Is(err, unix.ENOENT) {
		return &caller{host: true}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("opening .flatpak-info of pid %d: %w", pid, err)
	}
	f := os.NewFile(uintptr(fd), ".flatpak-info")
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf(".flatpak-info of pid %d is not a regular file", pid)
	}
	data, err := io.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("reading .flatpak-info of pid %d: %w", pid, err)
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
