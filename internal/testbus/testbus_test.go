package testbus

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/porthole-dev/porthole/internal/testenv"
)

const (
	serviceEnv = "PORTHOLE_TESTBUS_SERVICE" // name the re-exec'd service claims
	nestedEnv  = "PORTHOLE_TESTBUS_NESTED"  // set in the run as the test user
	svcPath    = "/org/porthole/Test"
	svcIface   = "org.porthole.Test"
)

func TestMain(m *testing.M) {
	if name := os.Getenv(serviceEnv); name != "" {
		os.Exit(runService(name))
	}
	os.Exit(m.Run())
}

// service is the object the activated test binary exports.
type service struct{}

// Getenv returns the service's view of an environment variable.
func (service) Getenv(key string) (string, *dbus.Error) { return os.Getenv(key), nil }

// Pid returns the service's process id.
func (service) Pid() (uint32, *dbus.Error) { return uint32(os.Getpid()), nil }

func runService(name string) int {
	conn, err := dbus.Connect(os.Getenv("DBUS_STARTER_ADDRESS"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "service:", err)
		return 1
	}
	if err := conn.Export(service{}, svcPath, svcIface); err != nil {
		fmt.Fprintln(os.Stderr, "service:", err)
		return 1
	}
	reply, err := conn.RequestName(name, dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		fmt.Fprintln(os.Stderr, "service: cannot own", name, reply, err)
		return 1
	}
	<-conn.Context().Done() // the bus went away
	return 0
}

func ownName(t *testing.T, conn *dbus.Conn, name string) {
	t.Helper()
	reply, err := conn.RequestName(name, dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("RequestName(%s) = %v, %v, want primary owner", name, reply, err)
	}
}

func TestBus(t *testing.T) {
	for _, tc := range []struct {
		name    string
		new     func(testing.TB) *Bus
		envName string
	}{
		{"session", New, "DBUS_SESSION_BUS_ADDRESS"},
		{"system", NewSystem, "DBUS_SYSTEM_BUS_ADDRESS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.new(t)
			if !strings.HasPrefix(b.Address(), "unix:path=") {
				t.Errorf("Address() = %q, want unix:path=…", b.Address())
			}
			if got, want := b.Env(), tc.envName+"="+b.Address(); got != want {
				t.Errorf("Env() = %q, want %q", got, want)
			}
			c1, c2 := b.Conn(t), b.Conn(t)
			ownName(t, c1, "org.porthole.Owned")
			var owner string
			if err := c2.BusObject().Call("org.freedesktop.DBus.GetNameOwner", 0, "org.porthole.Owned").Store(&owner); err != nil {
				t.Fatal(err)
			}
			if owner != c1.Names()[0] {
				t.Errorf("GetNameOwner = %q, want %q", owner, c1.Names()[0])
			}
		})
	}
}

func TestActivation(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, system := range []bool{false, true} {
		t.Run(map[bool]string{false: "session", true: "system"}[system], func(t *testing.T) {
			b := Start(t, Options{System: system})
			b.AddService("org.porthole.Activated", shellQuote(exe),
				serviceEnv+"=org.porthole.Activated", "PORTHOLE_EXTRA=a b'c")
			conn := b.Conn(t)
			obj := conn.Object("org.porthole.Activated", svcPath)
			getenv := func(key string) string {
				t.Helper()
				var v string
				if err := obj.Call(svcIface+".Getenv", 0, key).Store(&v); err != nil {
					t.Fatalf("Getenv(%s) via activation: %v", key, err)
				}
				return v
			}
			if got, want := getenv("PORTHOLE_EXTRA"), "a b'c"; got != want {
				t.Errorf("service env PORTHOLE_EXTRA = %q, want %q", got, want)
			}
			wantType := map[bool]string{false: "session", true: "system"}[system]
			if got := getenv("DBUS_STARTER_BUS_TYPE"); got != wantType {
				t.Errorf("DBUS_STARTER_BUS_TYPE = %q, want %q", got, wantType)
			}
			// Neither bus address may lead to an ambient bus.
			for _, key := range []string{"DBUS_SESSION_BUS_ADDRESS", "DBUS_SYSTEM_BUS_ADDRESS"} {
				v := getenv(key)
				if !strings.Contains(v, b.dir) {
					t.Errorf("service %s = %q, want an address inside %s", key, v, b.dir)
				}
			}
		})
	}
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func TestTeardown(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b := New(t)
	b.AddService("org.porthole.Victim", shellQuote(exe), serviceEnv+"=org.porthole.Victim")
	conn, err := dbus.Connect(b.Address())
	if err != nil {
		t.Fatal(err)
	}
	var svcPid uint32
	if err := conn.Object("org.porthole.Victim", svcPath).Call(svcIface+".Pid", 0).Store(&svcPid); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	daemonPid := b.Pid()
	b.Close()
	b.Close() // idempotent
	if alive(daemonPid) {
		t.Errorf("dbus-daemon %d still running after Close", daemonPid)
	}
	// The service was killed with the group; init reaps it eventually, so
	// only a zombie may remain for a moment.
	deadline := time.Now().Add(10 * time.Second)
	for alive(int(svcPid)) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if alive(int(svcPid)) {
		t.Errorf("activated service %d still running after Close", svcPid)
	}
	if _, err := os.Stat(b.dir); err != nil {
		t.Errorf("bus dir removed before test end: %v", err)
	}
}

// TestOtherUID connects to the bus from processes of another uid than the
// daemon's, with dbus-send.
func TestOtherUID(t *testing.T) {
	testenv.RequireCommand(t, "dbus-send")
	for _, system := range []bool{false, true} {
		t.Run(map[bool]string{false: "session", true: "system"}[system], func(t *testing.T) {
			testOtherUID(t, system)
		})
	}
}

func testOtherUID(t *testing.T, system bool) {
	{
		b := Start(t, Options{System: system})
		owner := b.Conn(t)
		ownName(t, owner, "org.porthole.Root")
		testenv.ForEachUser(t, func(t *testing.T, u testenv.User) {
			name := fmt.Sprintf("org.porthole.U%d", u.UID)
			out, err := u.Command(t, "dbus-send", "--bus="+b.Address(), "--print-reply",
				"--dest=org.freedesktop.DBus", "/org/freedesktop/DBus",
				"org.freedesktop.DBus.RequestName", "string:"+name, "uint32:4").CombinedOutput()
			if err != nil || !strings.Contains(string(out), "uint32 1") {
				t.Fatalf("RequestName as uid %d: %v\n%s", u.UID, err, out)
			}
			// A call to a name owned by the daemon's uid.
			out, err = u.Command(t, "dbus-send", "--bus="+b.Address(), "--print-reply",
				"--dest=org.porthole.Root", "/", "org.freedesktop.DBus.Peer.Ping").CombinedOutput()
			if err != nil {
				t.Fatalf("Ping as uid %d: %v\n%s", u.UID, err, out)
			}
		})
	}
}

// TestAsTestUser reruns this package's tests as the unprivileged test user
// when the tests run as root, so the bus is known to work for both.
func TestAsTestUser(t *testing.T) {
	if os.Getenv(nestedEnv) != "" {
		t.Skip("already the nested run")
	}
	testenv.RequireRoot(t)
	u := testenv.Unprivileged(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := testenv.SharedTempDir(t, u)
	bin := filepath.Join(dir, "testbus.test")
	if err := copyFile(bin, exe); err != nil {
		t.Fatal(err)
	}
	cmd := u.Command(t, bin, "-test.run=^(TestBus|TestActivation|TestTeardown)$", "-test.count=1", "-test.v")
	cmd.Dir = dir
	cmd.Env = testenv.WithEnv(cmd.Env, nestedEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "PASS") || strings.Contains(string(out), "--- SKIP") {
		t.Fatalf("tests as uid %d: %v\n%s", u.UID, err, out)
	}
}

func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
