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

// ErrNoA11yBus reports that no accessibility bus address was found.
var ErrNoA11yBus = errors.New("accessibility bus not available")

// A11yBus finds the accessibility bus.
type A11yBus interface {
	// A11yAddress returns the bus address org.a11y.Bus gives, or
	// ErrNoA11yBus.
	A11yAddress(ctx context.Context) (string, error)
}

// Session holds the run's questions to the session bus: the document
// portal's mount point (GetMountPoint, which D-Bus-activates the portal)
// and the accessibility bus address (org.a11y.Bus GetAddress). One
// connection; the calls start at once, in the background, so that they
// overlap with the rest of the run's set-up.
type Session struct {
	cancel context.CancelFunc
	once   sync.Once
	connc  chan struct{}
	conn   *dbus.Conn
	docs   answer
	a11y   answer
}

type answer struct {
	done chan struct{}
	val  string
	err  error
}

func (a *answer) wait(ctx context.Context) (string, error) {
	select {
	case <-a.done:
		return a.val, a.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
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

// StartSession connects to the session bus of env and asks the questions
// wanted: docs for the document portal, a11y for the accessibility bus.
func StartSession(ctx context.Context, env []string, docs, a11y bool) *Session {
	ctx, cancel := context.WithCancel(ctx)
	s := &Session{cancel: cancel, connc: make(chan struct{}),
		docs: answer{done: make(chan struct{})}, a11y: answer{done: make(chan struct{})}}
	addr := SessionBusAddress(env)
	go func() {
		defer close(s.connc)
		fail := func(err error) {
			s.docs.err = fmt.Errorf("%w: %v", ErrNoPortal, err)
			s.a11y.err = fmt.Errorf("%w: %v", ErrNoA11yBus, err)
			close(s.docs.done)
			close(s.a11y.done)
		}
		if addr == "" {
			fail(errors.New("no session bus"))
			return
		}
		conn, err := dbus.Connect(addr, dbus.WithContext(ctx))
		if err != nil {
			fail(err)
			return
		}
		s.conn = conn
		ask := func(want bool, a *answer, sentinel error, dest string, path dbus.ObjectPath, method string, decode func(*dbus.Call) (string, error)) {
			defer close(a.done)
			if !want {
				a.err = fmt.Errorf("%w: not asked", sentinel)
				return
			}
			cctx, cancel := context.WithTimeout(ctx, docsTimeout)
			defer cancel()
			v, err := decode(conn.Object(dest, path).CallWithContext(cctx, method, 0))
			if err != nil {
				var de dbus.Error
				if errors.As(err, &de) {
					err = errors.New(de.Name)
				}
				a.err = fmt.Errorf("%w: %v", sentinel, err)
				return
			}
			if v == "" {
				a.err = fmt.Errorf("%w: empty answer", sentinel)
			}
			a.val = v
		}
		go ask(a11y, &s.a11y, ErrNoA11yBus, "org.a11y.Bus", "/org/a11y/bus", "org.a11y.Bus.GetAddress", func(c *dbus.Call) (string, error) {
			var addr string
			return addr, c.Store(&addr)
		})
		ask(docs, &s.docs, ErrNoPortal, docsName, docsPath, docsIface+".GetMountPoint", func(c *dbus.Call) (string, error) {
			var mp []byte
			err := c.Store(&mp)
			return strings.TrimRight(string(mp), "\x00"), err
		})
	}()
	return s
}

// A11yAddress waits for the answer of org.a11y.Bus GetAddress.
func (s *Session) A11yAddress(ctx context.Context) (string, error) { return s.a11y.wait(ctx) }

// MountPoint waits for the answer of GetMountPoint.
func (s *Session) MountPoint(ctx context.Context) (string, error) { return s.docs.wait(ctx) }

// Forward exports path as Flatpak 1.14 does: Add of an O_PATH descriptor
// (reuse an existing document, not persistent), then GrantPermissions
// of read and write to the app.
func (s *Session) Forward(ctx context.Context, appID, path string) (string, error) {
	if _, err := s.MountPoint(ctx); err != nil {
		return "", err
	}
	fd, err := unix.Open(path, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("cannot open %s: %w", path, err)
	}
	defer unix.Close(fd)
	obj := s.conn.Object(docsName, docsPath)
	var id string
	if err := obj.CallWithContext(ctx, docsIface+".Add", 0, dbus.UnixFD(fd), true, false).Store(&id); err != nil {
		return "", fmt.Errorf("cannot export %s to the document portal: %w", path, err)
	}
	if err := obj.CallWithContext(ctx, docsIface+".GrantPermissions", 0, id, appID, []string{"read", "write"}).Store(); err != nil {
		return "", fmt.Errorf("cannot grant %s access to %s: %w", appID, path, err)
	}
	return id, nil
}

// Close abandons pending calls and closes the bus connection.
func (s *Session) Close() error {
	var err error
	s.once.Do(func() {
		s.cancel()
		<-s.connc
		<-s.a11y.done
		if s.conn != nil {
			err = s.conn.Close()
		}
	})
	return err
}
