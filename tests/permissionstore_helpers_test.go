package tests

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/porthole-dev/porthole/internal/testbus"
	"github.com/porthole-dev/porthole/internal/testenv"
)

const (
	psName  = "org.freedesktop.impl.portal.PermissionStore"
	psPath  = dbus.ObjectPath("/org/freedesktop/impl/portal/PermissionStore")
	psIface = "org.freedesktop.impl.portal.PermissionStore"
	// psUpstream is Debian's xdg-permission-store (package xdg-desktop-portal).
	psUpstream = "/usr/libexec/xdg-permission-store"
)

// psOurBinary is porthole-permission-store: $PORTHOLE_BIN/porthole-permission-store
// when set (make test), else built once per test binary the way the
// Makefile builds it (dynamically linked).
var psOurBinary = sync.OnceValues(func() (string, error) {
	if dir := os.Getenv("PORTHOLE_BIN"); dir != "" {
		p := filepath.Join(dir, "porthole-permission-store")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	dir, err := os.MkdirTemp("", "porthole-permstore-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "porthole-permission-store")
	cmd := exec.Command("go", "build", "-ldflags=-linkmode=external", "-o", bin,
		"github.com/porthole-dev/porthole/cmd/porthole-permission-store")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// psBinary returns the store binary for which ("ours" or "upstream").
func psBinary(t testing.TB, which string) string {
	t.Helper()
	if which == "upstream" {
		_, err := os.Stat(psUpstream)
		testenv.Require(t, err == nil, "needs "+psUpstream+" (Debian package xdg-desktop-portal)")
		return psUpstream
	}
	bin, err := psOurBinary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// psProc is a running permission store.
type psProc struct {
	cmd    *exec.Cmd
	done   chan struct{}
	err    error // Wait's result, valid after done is closed
	stderr *psLog
}

// psStart runs a permission store binary on bus with XDG_DATA_HOME=dataHome
// and waits until it owns the bus name. The process is killed at cleanup
// if still running.
func psStart(t testing.TB, bus *testbus.Bus, bin, dataHome string) *psProc {
	t.Helper()
	p := psLaunch(t, bus, bin, dataHome)
	p.waitOwner(t, bus)
	return p
}

// psCommand is the command line of a store on bus with XDG_DATA_HOME=dataHome.
func psCommand(bus *testbus.Bus, bin, dataHome string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), bus.Env(), "XDG_DATA_HOME="+dataHome, "HOME="+dataHome, "GIO_USE_VFS=local")
	return cmd
}

// psLaunch starts a store without waiting for it.
func psLaunch(t testing.TB, bus *testbus.Bus, bin, dataHome string, args ...string) *psProc {
	t.Helper()
	cmd := psCommand(bus, bin, dataHome, args...)
	p := &psProc{cmd: cmd, done: make(chan struct{}), stderr: &psLog{}}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// waitOwner waits until p owns the store's bus name.
func (p *psProc) waitOwner(t testing.TB, bus *testbus.Bus) {
	t.Helper()
	conn := bus.Conn(t)
	for {
		var owner string
		err := conn.BusObject().Call("org.freedesktop.DBus.GetNameOwner", 0, psName).Store(&owner)
		if err == nil {
			var pid uint32
			if err := conn.BusObject().Call("org.freedesktop.DBus.GetConnectionUnixProcessID", 0, owner).Store(&pid); err == nil && int(pid) == p.cmd.Process.Pid {
				return
			}
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited before owning %s: %v\n%s", p.cmd.Path, psName, p.err, p.stderr)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// stop sends sig and returns the exit status (-1 for death by signal).
func (p *psProc) stop(t testing.TB, sig syscall.Signal) int {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	<-p.done
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		t.Fatal(p.err)
	}
	return 0
}

type psLog struct {
	mu  sync.Mutex
	buf []byte
}

func (l *psLog) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, b...)
	return len(b), nil
}

func (l *psLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.buf)
}

// psObject returns the store object on conn.
func psObject(conn *dbus.Conn) dbus.BusObject { return conn.Object(psName, psPath) }

// psCall calls method and fails the test on error.
func psCall(t testing.TB, obj dbus.BusObject, method string, args ...any) *dbus.Call {
	t.Helper()
	c := obj.Call(psIface+"."+method, 0, args...)
	if c.Err != nil {
		t.Fatalf("%s%v: %v", method, args, c.Err)
	}
	return c
}

// psErrName returns the D-Bus error name of calling method ("" on success).
func psErrName(obj dbus.BusObject, method string, args ...any) string {
	err := obj.Call(psIface+"."+method, 0, args...).Err
	var de dbus.Error
	if errors.As(err, &de) {
		return de.Name
	}
	if err != nil {
		return err.Error()
	}
	return ""
}

// psEntry is what Lookup returns.
type psEntry struct {
	Perms map[string][]string
	Data  dbus.Variant
}

func psLookup(t testing.TB, obj dbus.BusObject, table, id string) psEntry {
	t.Helper()
	var e psEntry
	if err := psCall(t, obj, "Lookup", table, id).Store(&e.Perms, &e.Data); err != nil {
		t.Fatal(err)
	}
	return e
}
