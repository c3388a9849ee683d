package runspec

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"
	"golang.org/x/sys/unix"
)

// ErrNoPortal reports that the document portal is not available: no
// session bus, or no service of that name.
var ErrNoPortal = errors.New("document portal not available")

// Documents is the document portal as a run uses it.
type Documents interface {
	// MountPoint returns the portal's FUSE mount point on the host, or
	// ErrNoPortal.
	MountPoint(ctx context.Context) (string, error)
	// Forward exports the host file path to appID with read and write
	// permission and returns the document id.
	Forward(ctx context.Context, appID, path string) (string, error)
}

const (
	docsName  = "org.freedesktop.portal.Documents"
	docsPath  = dbus.ObjectPath("/org/freedesktop/portal/documents")
	docsIface = "org.freedesktop.portal.Documents"
	// docsTimeout is Flatpak's timeout for GetMountPoint (the portal may
	// have to be activated).
	docsTimeout = 30 * time.Second
)

// SessionDocuments is the document portal on the session bus. The
// connection and the GetMountPoint call (which D-Bus-activates the
// portal) start at once, in the background, so that they overlap with
// the rest of the run's set-up.
type SessionDocuments struct {
	done   chan struct{}
	cancel context.CancelFunc
	once   sync.Once
	conn   *dbus.Conn
	mount  string
	err    error
}

// SessionBusAddress returns the session bus address as GLib finds it:
// DBUS_SESSION_BUS_ADDRESS, else $XDG_RUNTIME_DIR/bus when it exists.
func SessionBusAddress(env []string) string {
	get := func(k string) string {
		for i := len(env) - 1; i >= 0; i-- {
			if v, ok := strings.CutPrefix(env[i], k+"="); ok {
				return v
			}
		}
		return ""
	}
	if a := get("DBUS_SESSION_BUS_ADDRESS"); a != "" {
		return a
	}
	if rd := get("XDG_RUNTIME_DIR"); rd != "" {
		p := filepath.Join(rd, "bus")
		if fi, err := os.Stat(p); err == nil && fi.Mode().Type() == os.ModeSocket {
			return "unix:path=" + p
		}
	}
	return ""
}

// StartDocuments connects to the session bus of env and asks the
// document portal for its mount point.
func StartDocuments(ctx context.Context, env []string) *SessionDocuments {
	ctx, cancel := context.WithCancel(ctx)
	d := &SessionDocuments{done: make(chan struct{}), cancel: cancel}
	addr := SessionBusAddress(env)
	go func() {
		defer close(d.done)
		if addr == "" {
			d.err = fmt.Errorf("%w: no session bus", ErrNoPortal)
			return
		}
		conn, err := dbus.Connect(addr, dbus.WithContext(ctx))
		if err != nil {
			d.err = fmt.Errorf("%w: %v", ErrNoPortal, err)
			return
		}
		d.conn = conn
		cctx, cancel := context.WithTimeout(ctx, docsTimeout)
		defer cancel()
		var mp []byte
		if err := conn.Object(docsName, docsPath).CallWithContext(cctx, docsIface+".GetMountPoint", 0).Store(&mp); err != nil {
			var de dbus.Error
			if errors.As(err, &de) && de.Name == "org.freedesktop.DBus.Error.ServiceUnknown" {
				d.err = fmt.Errorf("%w: %s", ErrNoPortal, de.Name)
			} else {
				d.err = fmt.Errorf("%w: %v", ErrNoPortal, err)
			}
			return
		}
		d.mount = strings.TrimRight(string(mp), "\x00")
		if d.mount == "" {
			d.err = fmt.Errorf("%w: empty mount point", ErrNoPortal)
		}
	}()
	return d
}

// MountPoint waits for the answer of GetMountPoint.
func (d *SessionDocuments) MountPoint(ctx context.Context) (string, error) {
	select {
	case <-d.done:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	return d.mount, d.err
}

// Forward exports path as Flatpak 1.14 does: Add of an O_PATH descriptor
// (reuse an existing document, not persistent), then GrantPermissions
// of read and write to the app.
func (d *SessionDocuments) Forward(ctx context.Context, appID, path string) (string, error) {
	if _, err := d.MountPoint(ctx); err != nil {
		return "", err
	}
	fd, err := unix.Open(path, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("cannot open %s: %w", path, err)
	}
	defer unix.Close(fd)
	obj := d.conn.Object(docsName, docsPath)
	var id string
	if err := obj.CallWithContext(ctx, docsIface+".Add", 0, dbus.UnixFD(fd), true, false).Store(&id); err != nil {
		return "", fmt.Errorf("cannot export %s to the document portal: %w", path, err)
	}
	if err := obj.CallWithContext(ctx, docsIface+".GrantPermissions", 0, id, appID, []string{"read", "write"}).Store(); err != nil {
		return "", fmt.Errorf("cannot grant %s access to %s: %w", appID, path, err)
	}
	return id, nil
}

// Close abandons a pending call and closes the bus connection.
func (d *SessionDocuments) Close() error {
	var err error
	d.once.Do(func() {
		d.cancel()
		<-d.done
		if d.conn != nil {
			err = d.conn.Close()
		}
	})
	return err
}
