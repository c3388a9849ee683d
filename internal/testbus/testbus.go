package testbus

import (
	"bufio"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/porthole-dev/porthole/internal/testenv"
)

// Options tune Start.
type Options struct {
	// System makes the daemon a system-type bus: the config says
	// <type>system</type> and Env names DBUS_SYSTEM_BUS_ADDRESS.
	System bool
	// Env holds extra KEY=VALUE entries for the daemon's environment, which
	// activated services inherit (for example the other bus's Env()).
	Env []string
}

// Bus is a running private dbus-daemon. Its methods must be called from the
// test's goroutine, except Address, Env and ServiceDir.
type Bus struct {
	t      testing.TB
	opts   Options
	dir    string // socket, config, services and log; mode 0755
	listen string // the address the config listens on
	addr   string // the address the daemon printed (with guid)
	cmd    *exec.Cmd
	waited chan struct{}

	mu     sync.Mutex
	ctl    *dbus.Conn // private connection for ReloadConfig
	closed bool
}

// New starts a session-type bus for t and stops it when t ends.
func New(t testing.TB) *Bus {
	t.Helper()
	return Start(t, Options{})
}

// NewSystem starts a system-type bus for t (with the same permissive policy)
// and stops it when t ends.
func NewSystem(t testing.TB) *Bus {
	t.Helper()
	return Start(t, Options{System: true})
}

// Start starts a bus as described by opts and stops it when t ends.
// It Requires dbus-daemon.
func Start(t testing.TB, opts Options) *Bus {
	t.Helper()
	testenv.Require(t, testenv.HaveDBusDaemon(), "needs dbus-daemon")
	// Not t.TempDir(): that tree is mode 0700, which processes of other
	// uids cannot traverse, and its long names can overflow sun_path.
	dir, err := os.MkdirTemp("", "porthole-bus")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b := &Bus{t: t, opts: opts, dir: dir, waited: make(chan struct{})}
	b.listen = "unix:path=" + filepath.Join(dir, "bus")
	if err := os.Mkdir(b.ServiceDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "bus.conf")
	if err := os.WriteFile(conf, []byte(b.config()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := b.start(conf); err != nil {
		t.Fatalf("starting dbus-daemon: %v\n%s", err, b.log())
	}
	t.Cleanup(func() {
		if t.Failed() {
			if l := b.log(); l != "" {
				t.Logf("dbus-daemon log:\n%s", l)
			}
		}
		b.Close()
	})
	return b
}

func (b *Bus) config() string {
	typ := "session"
	if b.opts.System {
		typ = "system"
	}
	esc := func(s string) string {
		var sb strings.Builder
		xml.EscapeText(&sb, []byte(s))
		return sb.String()
	}
	return `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>` + typ + `</type>
  <keep_umask/>
  <listen>` + esc(b.listen) + `</listen>
  <auth>EXTERNAL</auth>
  <auth>ANONYMOUS</auth>
  <allow_anonymous/>
  <servicedir>` + esc(b.ServiceDir()) + `</servicedir>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow receive_sender="*"/>
    <allow eavesdrop="true"/>
  </policy>
</busconfig>
`
}

func (b *Bus) start(conf string) error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	logf, err := os.OpenFile(filepath.Join(b.dir, "dbus.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		w.Close()
		return err
	}
	defer logf.Close()
	cmd := exec.Command("dbus-daemon", "--nofork", "--nopidfile", "--nosyslog",
		"--print-address=3", "--config-file="+conf)
	cmd.ExtraFiles = []*os.File{w}
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.Dir = b.dir
	// Its own process group, so teardown also reaches activated services.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	cmd.Env = testenv.WithEnv(os.Environ(), b.daemonEnv()...)
	err = cmd.Start()
	w.Close()
	if err != nil {
		return err
	}
	b.cmd = cmd
	go func() {
		cmd.Wait()
		close(b.waited)
	}()
	line, err := bufio.NewReader(r).ReadString('\n')
	line = strings.TrimSpace(line)
	if line == "" {
		b.kill()
		if err == nil {
			err = errors.New("no address printed")
		}
		return fmt.Errorf("dbus-daemon exited early: %w", err)
	}
	b.addr = line
	return nil
}

// daemonEnv keeps every process the bus starts off the ambient buses: the
// other kind of bus points at a socket path that never exists.
func (b *Bus) daemonEnv() []string {
	env := []string{"DBUS_STARTER_ADDRESS", "DBUS_STARTER_BUS_TYPE"}
	if b.opts.System {
		env = append(env,
			"DBUS_SYSTEM_BUS_ADDRESS="+b.listen,
			"DBUS_SESSION_BUS_ADDRESS=unix:path="+filepath.Join(b.dir, "no-session-bus"))
	} else {
		env = append(env,
			"DBUS_SESSION_BUS_ADDRESS="+b.listen,
			"DBUS_SYSTEM_BUS_ADDRESS=unix:path="+filepath.Join(b.dir, "no-system-bus"))
	}
	return append(env, b.opts.Env...)
}

// Address returns the bus address, as printed by the daemon.
func (b *Bus) Address() string { return b.addr }

// Env returns DBUS_SESSION_BUS_ADDRESS=<address> for a session bus and
// DBUS_SYSTEM_BUS_ADDRESS=<address> for a system bus, for a child's
// environment.
func (b *Bus) Env() string {
	if b.opts.System {
		return "DBUS_SYSTEM_BUS_ADDRESS=" + b.addr
	}
	return "DBUS_SESSION_BUS_ADDRESS=" + b.addr
}

// Pid returns the dbus-daemon's process id.
func (b *Bus) Pid() int { return b.cmd.Process.Pid }

// ServiceDir returns the activation service directory of the bus.
func (b *Bus) ServiceDir() string { return filepath.Join(b.dir, "services") }

// Conn returns a new connection to the bus (authenticated, Hello sent),
// closed when t ends.
func (b *Bus) Conn(t testing.TB) *dbus.Conn {
	t.Helper()
	conn, err := dbus.Connect(b.addr)
	if err != nil {
		t.Fatalf("connecting to test bus: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// AddService makes name activatable: it writes <name>.service to the
// service dir, running exec (a command line; dbus-daemon splits it like a
// shell without expansions) with the extra KEY=VALUE entries of env, and
// makes the daemon reload its configuration so the service is known at once.
func (b *Bus) AddService(name, exec string, env ...string) {
	b.t.Helper()
	if len(env) > 0 {
		var sb strings.Builder
		sb.WriteString("/usr/bin/env")
		for _, kv := range env {
			if !strings.Contains(kv, "=") {
				b.t.Fatalf("AddService(%s): env entry %q is not KEY=VALUE", name, kv)
			}
			sb.WriteString(" " + shellQuote(kv))
		}
		exec = sb.String() + " " + exec
	}
	// The file is a key file: its values escape backslashes.
	content := "[D-BUS Service]\nName=" + name + "\nExec=" + strings.ReplaceAll(exec, `\`, `\\`) + "\n"
	if b.opts.System {
		// Read only with a servicehelper; harmless otherwise.
		content += "User=" + testenv.Current().Name + "\n"
	}
	path := filepath.Join(b.ServiceDir(), name+".service")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		b.t.Fatal(err)
	}
	if err := b.reload(); err != nil {
		b.t.Fatalf("AddService(%s): reloading bus config: %v", name, err)
	}
}

func (b *Bus) reload() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ctl == nil {
		conn, err := dbus.Connect(b.addr)
		if err != nil {
			return err
		}
		b.ctl = conn
	}
	return b.ctl.BusObject().Call("org.freedesktop.DBus.ReloadConfig", 0).Err
}

// shellQuote quotes s for dbus-daemon's Exec= splitting.
func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`;&|<>()*?[]#~%") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Close stops the daemon and every process in its process group (the
// activated services) and waits for the daemon to exit. It is called
// automatically when the test ends; calling it earlier is allowed.
func (b *Bus) Close() {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.closed = true
	if b.ctl != nil {
		b.ctl.Close()
	}
	b.mu.Unlock()
	b.kill()
}

func (b *Bus) kill() {
	pgid := b.cmd.Process.Pid
	syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-b.waited:
	case <-time.After(5 * time.Second):
	}
	// Anything that ignored SIGTERM, and the daemon if it did.
	syscall.Kill(-pgid, syscall.SIGKILL)
	<-b.waited
}

func (b *Bus) log() string {
	data, _ := os.ReadFile(filepath.Join(b.dir, "dbus.log"))
	return string(data)
}
