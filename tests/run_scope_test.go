package tests

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"

	"github.com/godbus/dbus/v5"

	"github.com/porthole-dev/porthole/internal/testenv"
)

// fakeSystemd answers StartTransientUnit on a systemd-style private
// socket (direct D-Bus connections, no bus daemon) and records the calls.
type fakeSystemd struct {
	mu    sync.Mutex
	units []string
	conns []*dbus.Conn
}

type scopeProp struct {
	Name  string
	Value dbus.Variant
}

type scopeAux struct {
	Name  string
	Props []scopeProp
}

type fakeManager struct {
	f    *fakeSystemd
	conn *dbus.Conn
}

func (m fakeManager) StartTransientUnit(name, mode string, props []scopeProp, aux []scopeAux) (dbus.ObjectPath, *dbus.Error) {
	pids := ""
	for _, p := range props {
		if p.Name == "PIDs" {
			pids = fmt.Sprint(p.Value.Value())
		}
	}
	m.f.mu.Lock()
	m.f.units = append(m.f.units, fmt.Sprintf("%s %s PIDs=%s aux=%d", name, mode, pids, len(aux)))
	n := len(m.f.units)
	m.f.mu.Unlock()
	job := dbus.ObjectPath(fmt.Sprintf("/org/freedesktop/systemd1/job/%d", n))
	// As systemd: the job finishes, JobRemoved goes to the connection.
	m.conn.Emit("/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager.JobRemoved", uint32(n), job, name, "done")
	return job, nil
}

// serve accepts connections on l: SASL EXTERNAL by hand, then D-Bus.
func (f *fakeSystemd) serve(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			line := func() []byte {
				var b []byte
				one := make([]byte, 1)
				for !bytes.HasSuffix(b, []byte("\r\n")) {
					if _, err := c.Read(one); err != nil {
						return nil
					}
					b = append(b, one[0])
				}
				return bytes.TrimRight(b, "\r\n")
			}
			c.Read(make([]byte, 1)) // the NUL byte
			for {
				l := line()
				switch {
				case l == nil:
					c.Close()
					return
				case bytes.HasPrefix(l, []byte("AUTH EXTERNAL")):
					c.Write([]byte("OK 0123456789abcdef0123456789abcdef\r\n"))
				case bytes.Equal(l, []byte("NEGOTIATE_UNIX_FD")):
					c.Write([]byte("AGREE_UNIX_FD\r\n"))
				case bytes.Equal(l, []byte("BEGIN")):
					// godbus only reads messages once Auth succeeded: run
					// its client handshake against a script, then pass
					// the stream through.
					sc := &scriptedConn{Conn: c, script: []byte("REJECTED EXTERNAL\r\nOK 0123456789abcdef0123456789abcdef\r\n")}
					conn, err := dbus.NewConn(sc)
					if err == nil {
						// Exported before Auth starts reading messages.
						conn.Export(fakeManager{f, conn}, "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager")
						err = conn.Auth([]dbus.Auth{okAuth{}})
					}
					if err != nil {
						c.Close()
						return
					}
					f.mu.Lock()
					f.conns = append(f.conns, conn)
					f.mu.Unlock()
					return
				default:
					c.Write([]byte("REJECTED EXTERNAL\r\n"))
				}
			}
		}()
	}
}

// scriptedConn discards writes and serves script to reads until the
// handshake's BEGIN was written, then is the connection.
type scriptedConn struct {
	net.Conn
	script []byte
	live   bool
}

func (s *scriptedConn) Read(p []byte) (int, error) {
	if s.live {
		return s.Conn.Read(p)
	}
	n := copy(p, s.script)
	s.script = s.script[n:]
	return n, nil
}

func (s *scriptedConn) Write(p []byte) (int, error) {
	if s.live {
		return s.Conn.Write(p)
	}
	if bytes.Contains(p, []byte("BEGIN")) {
		s.live = true
	}
	return len(p), nil
}

type okAuth struct{}

func (okAuth) FirstData() ([]byte, []byte, dbus.AuthStatus) {
	return []byte("EXTERNAL"), nil, dbus.AuthOk
}
func (okAuth) HandleData([]byte) ([]byte, dbus.AuthStatus) { return nil, dbus.AuthOk }

// TestRunSystemdScope: `porthole run` asks the user's systemd (here a
// fake on the private socket) for app-flatpak-ID-PID.scope holding its
// own pid before it starts the sandbox, as Flatpak does; without systemd
// it runs all the same.
func TestRunSystemdScope(t *testing.T) {
	b := needRunBins(t)
	f := needRunFixture(t)
	testenv.ForEachUser(t, func(t *testing.T, u testenv.User) {
		home := testenv.SharedTempDir(t, u)
		sock := filepath.Join(testenv.SharedTempDir(t, u), "private")
		l, err := net.Listen("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		os.Chown(sock, u.UID, u.GID)
		fake := &fakeSystemd{}
		go fake.serve(l)
		t.Cleanup(func() {
			l.Close()
			fake.mu.Lock()
			for _, c := range fake.conns {
				c.Close()
			}
			fake.mu.Unlock()
		})
		out, err := runAsEnvStderr(t, u, home, f.inst, []string{"PORTHOLE_SYSTEMD_PRIVATE=" + sock, "PORTHOLE_DEBUG=1"}, b.porthole, "run", "--user", "org.test.Probe", "visible", "/")
		if err != nil {
			t.Fatalf("porthole run: %v\n%s", err, out)
		}
		fake.mu.Lock()
		units := append([]string(nil), fake.units...)
		fake.mu.Unlock()
		re := regexp.MustCompile(`^app-flatpak-org\.test\.Probe-([0-9]+)\.scope fail PIDs=\[([0-9]+)\] aux=0$`)
		if len(units) != 1 {
			t.Fatalf("StartTransientUnit calls: %q\n%s", units, out)
		}
		if m := re.FindStringSubmatch(units[0]); m == nil || m[1] != m[2] {
			t.Errorf("StartTransientUnit(%s), want app-flatpak-org.test.Probe-PID.scope fail PIDs=[PID]", units[0])
		} else if pid, _ := strconv.Atoi(m[1]); pid <= 1 {
			t.Errorf("scope pid %d", pid)
		}
		// No systemd: the run goes on.
		if out, err := runAsEnv(t, u, home, f.inst, []string{"PORTHOLE_SYSTEMD_PRIVATE=" + sock + ".missing"}, b.porthole, "run", "--user", "org.test.Probe", "visible", "/"); err != nil {
			t.Fatalf("porthole run without systemd: %v\n%s", err, out)
		}
	})
}

func runAsEnvStderr(t *testing.T, u testenv.User, home, inst string, env []string, name string, args ...string) (string, error) {
	cmd := u.Command(t, name, args...)
	cmd.Env = testenv.WithEnv(cmd.Env, "HOME="+home, "FLATPAK_USER_DIR="+inst, "PORTHOLE_USER_DIR="+inst,
		"PORTHOLE_SYSTEM_DIR="+filepath.Join(home, "no-system"), "DBUS_SESSION_BUS_ADDRESS", "DISPLAY", "WAYLAND_DISPLAY", "XAUTHORITY")
	cmd.Env = testenv.WithEnv(cmd.Env, env...)
	cmd.Dir = home
	out, err := cmd.CombinedOutput()
	return string(out), err
}
