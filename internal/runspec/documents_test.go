package runspec

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/porthole-dev/porthole/internal/testbus"
)

type fakePortal struct{ granted chan string }

func (fakePortal) GetMountPoint() ([]byte, *dbus.Error) { return []byte("/x/doc\x00"), nil }

func (fakePortal) Add(fd dbus.UnixFD, reuse, persistent bool) (string, *dbus.Error) {
	defer unixClose(int(fd))
	if !reuse || persistent {
		return "", dbus.MakeFailedError(errors.New("wrong flags"))
	}
	return "abc123", nil
}

func (p fakePortal) GrantPermissions(id, app string, perms []string) *dbus.Error {
	p.granted <- id + " " + app + " " + perms[0] + "," + perms[1]
	return nil
}

type fakeA11y struct{}

func (fakeA11y) GetAddress() (string, *dbus.Error) { return "unix:path=/x/a11y", nil }

// TestSession asks both questions on one connection and forwards a file;
// without a session bus both answers are the sentinels.
func TestSession(t *testing.T) {
	bus := testbus.New(t)
	conn := bus.Conn(t)
	p := fakePortal{granted: make(chan string, 1)}
	conn.Export(p, docsPath, docsIface)
	conn.Export(fakeA11y{}, "/org/a11y/bus", "org.a11y.Bus")
	for _, n := range []string{docsName, "org.a11y.Bus"} {
		if _, err := conn.RequestName(n, 0); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	s := StartSession(ctx, []string{bus.Env()}, true, true)
	defer s.Close()
	if mp, err := s.MountPoint(ctx); err != nil || mp != "/x/doc" {
		t.Errorf("MountPoint = %q, %v", mp, err)
	}
	if a, err := s.A11yAddress(ctx); err != nil || a != "unix:path=/x/a11y" {
		t.Errorf("A11yAddress = %q, %v", a, err)
	}
	f := filepath.Join(t.TempDir(), "f")
	os.WriteFile(f, nil, 0o644)
	if id, err := s.Forward(ctx, "org.test.App", f); err != nil || id != "abc123" {
		t.Errorf("Forward = %q, %v", id, err)
	}
	if g := <-p.granted; g != "abc123 org.test.App read,write" {
		t.Errorf("GrantPermissions(%s)", g)
	}

	none := StartSession(ctx, []string{"XDG_RUNTIME_DIR=" + t.TempDir()}, true, true)
	defer none.Close()
	if _, err := none.MountPoint(ctx); !errors.Is(err, ErrNoPortal) {
		t.Errorf("MountPoint without a bus: %v", err)
	}
	if _, err := none.A11yAddress(ctx); !errors.Is(err, ErrNoA11yBus) {
		t.Errorf("A11yAddress without a bus: %v", err)
	}
	// Not asked: the sentinel at once.
	s2 := StartSession(ctx, []string{bus.Env()}, true, false)
	defer s2.Close()
	if _, err := s2.A11yAddress(ctx); !errors.Is(err, ErrNoA11yBus) {
		t.Errorf("A11yAddress not asked: %v", err)
	}
}

func unixClose(fd int) { os.NewFile(uintptr(fd), "").Close() }
