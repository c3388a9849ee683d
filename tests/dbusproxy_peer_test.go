package tests

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/porthole-dev/porthole/internal/testenv"
	"github.com/porthole-dev/porthole/launcher/dbusproxy"
)

// dpPortal is a test service that identifies its caller as the portals do:
// the caller's pid from the bus, then /proc/PID/root/.flatpak-info.
type dpPortal struct{ conn *dbus.Conn }

func (p dpPortal) WhoAmI(sender dbus.Sender) (string, *dbus.Error) {
	var pid uint32
	if err := p.conn.BusObject().Call("org.freedesktop.DBus.GetConnectionUnixProcessID", 0, string(sender)).Store(&pid); err != nil {
		return "", dbus.MakeFailedError(err)
	}
	data, err := os.ReadFile("/proc/" + strconv.Itoa(int(pid)) + "/root/.flatpak-info")
	if err != nil {
		return "host", nil
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "name="); ok {
			return v, nil
		}
	}
	return "no name", nil
}

// dpSandboxHelper is a process that connects to the bus, then chroots into
// a directory holding a .flatpak-info and hands the connected sockets over
// fd 3, staying alive (like a sandbox's init) until that socket closes.
const dpSandboxHelper = `
import os, socket, sys
ctl = socket.socket(fileno=3)
conns = [socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(int(sys.argv[3]))]
for c in conns:
    c.connect(sys.argv[1])
os.chroot(sys.argv[2])
os.chdir("/")
for c in conns:
    socket.send_fds(ctl, [b"s"], [c.fileno()])
    c.close()
ctl.recv(1)
`

// TestDBusProxyPeerIsTheApp: with Options.DialBus opening the bus side
// from a process whose root holds the app's .flatpak-info, a service that
// identifies callers through /proc/PID/root/.flatpak-info sees the app,
// not the host.
func TestDBusProxyPeerIsTheApp(t *testing.T) {
	testenv.Require(t, testenv.IsRoot(), "needs root (chroot)")
	testenv.Require(t, testenv.HaveCommand("python3"), "needs python3")
	bus := dpNewBus(t)
	svc := bus.Conn(t)
	if _, err := svc.RequestName("org.test.Portal", 0); err != nil {
		t.Fatal(err)
	}
	svc.Export(dpPortal{svc}, "/org/test/Portal", "org.test.Portal")

	root := filepath.Join(t.TempDir(), "root")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, ".flatpak-info"), []byte("[Application]\nname=org.example.App\nruntime=runtime/org.example.Platform/x86_64/1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	busPath := strings.TrimPrefix(strings.Split(bus.Address(), ",")[0], "unix:path=")

	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "ctl"), os.NewFile(uintptr(fds[1]), "ctl-helper")
	const conns = 2
	helper := exec.Command("python3", "-c", dpSandboxHelper, busPath, root, strconv.Itoa(conns))
	helper.ExtraFiles = []*os.File{theirs}
	helper.Stderr = &dbusProxyLog{t: t}
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	theirs.Close()
	ctlConn, err := net.FileConn(ours)
	ours.Close()
	if err != nil {
		t.Fatal(err)
	}
	ctl := ctlConn.(*net.UnixConn)
	t.Cleanup(func() {
		ctl.Close() // the helper exits
		helper.Wait()
	})
	var pool []*net.UnixConn
	for len(pool) < conns {
		buf, oob := make([]byte, 1), make([]byte, syscall.CmsgSpace(4))
		_, oobn, _, _, err := ctl.ReadMsgUnix(buf, oob)
		if err != nil {
			t.Fatal(err)
		}
		msgs, err := syscall.ParseSocketControlMessage(oob[:oobn])
		if err != nil || len(msgs) != 1 {
			t.Fatalf("control message: %v", err)
		}
		got, err := syscall.ParseUnixRights(&msgs[0])
		if err != nil || len(got) != 1 {
			t.Fatalf("rights: %v", err)
		}
		f := os.NewFile(uintptr(got[0]), "bus")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		pool = append(pool, c.(*net.UnixConn))
	}

	policy := dbusproxy.Policy{Filter: true, Names: map[string]dbusproxy.Level{"org.test.Portal": dbusproxy.LevelTalk}}
	whoAmI := func(opts *dbusproxy.Options) string {
		px, err := dbusproxy.New(bus.Address(), policy, opts)
		if err != nil {
			t.Fatal(err)
		}
		sock := filepath.Join(t.TempDir(), "proxy")
		l, err := dbusproxy.Listen(sock)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- px.Serve(ctx, l) }()
		defer func() {
			cancel()
			<-done
		}()
		c := dbusProxyConnect(t, sock)
		defer c.Close()
		var who string
		if err := c.Object("org.test.Portal", "/org/test/Portal").Call("org.test.Portal.WhoAmI", 0).Store(&who); err != nil {
			t.Fatal(err)
		}
		return who
	}
	if got := whoAmI(nil); got != "host" {
		t.Errorf("without DialBus the service sees %q, want host (the proxy's own process)", got)
	}
	dial := func(context.Context) (*net.UnixConn, error) {
		c := pool[0]
		pool = pool[1:]
		return c, nil
	}
	if got := whoAmI(&dbusproxy.Options{DialBus: dial}); got != "org.example.App" {
		t.Errorf("with DialBus from the sandbox the service sees %q, want org.example.App", got)
	}
}
