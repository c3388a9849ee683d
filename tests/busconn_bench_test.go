package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/porthole-dev/porthole/internal/testbus"
	"github.com/porthole-dev/porthole/internal/testenv"
)

// BenchmarkBusconnReadOne measures one Settings.ReadOne round trip over
// one client connection: client → frontend → test backend and back.
// BUSCONN_FRONTEND picks the frontend binary (default porthole-portal
// from PORTHOLE_BIN), e.g. /usr/libexec/xdg-desktop-portal to compare;
// BUSCONN_METHOD another Settings method (Debian 12's 1.16 has no ReadOne).
func BenchmarkBusconnReadOne(b *testing.B) {
	testenv.Require(b, testenv.HaveDBusDaemon(), "needs dbus-daemon (Debian package dbus-daemon)")
	bus := testbus.New(b)
	root := b.TempDir()
	portals, files, run := filepath.Join(root, "portals"), filepath.Join(root, "files"), filepath.Join(root, "run")
	for _, d := range []string{portals, files, run} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			b.Fatal(err)
		}
	}
	startPtBackend(b, bus.Conn(b), portals, files)
	// xdg-desktop-portal 1.16 (Debian 12) picks backends by UseIn=.
	f, err := os.OpenFile(filepath.Join(portals, "test.portal"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	f.WriteString("UseIn=test\n")
	f.Close()
	bin := os.Getenv("BUSCONN_FRONTEND")
	if bin == "" {
		bin = docpBuild(b, "porthole-portal")
	}
	cmd := exec.Command(bin)
	cmd.Env = testenv.WithEnv(os.Environ(), bus.Env(), "HOME="+root, "XDG_RUNTIME_DIR="+run,
		"XDG_DESKTOP_PORTAL_DIR="+portals, "XDG_CURRENT_DESKTOP=test", "XDG_DESKTOP_PORTAL_TEST_APP_ID="+ptAppID)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	conn := bus.Conn(b)
	for deadline := time.Now().Add(20 * time.Second); ; {
		var has bool
		if err := conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, ptDesktopName).Store(&has); err != nil {
			b.Fatal(err)
		}
		if has {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s did not take %s", bin, ptDesktopName)
		}
		time.Sleep(5 * time.Millisecond)
	}
	obj := conn.Object(ptDesktopName, ptDesktopPath)
	method := ptPortal + "Settings.ReadOne"
	if m := os.Getenv("BUSCONN_METHOD"); m != "" {
		method = ptPortal + m // Settings.Read for xdg-desktop-portal 1.16
	}
	read := func() {
		var v dbus.Variant
		if err := obj.Call(method, 0, "org.freedesktop.appearance", "color-scheme").Store(&v); err != nil {
			b.Fatal(err)
		}
	}
	read()
	cpu0 := bcCPU(cmd.Process.Pid)
	for b.Loop() {
		read()
	}
	// The frontend's own CPU time per call hardly depends on the load of
	// the machine, unlike the round trip.
	b.ReportMetric(float64(bcCPU(cmd.Process.Pid)-cpu0)/float64(b.N), "frontend-cpu-ns/op")
}

// bcCPU returns the CPU time (ns) the threads of pid have run.
func bcCPU(pid int) int64 {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	var sum int64
	for _, p := range tasks {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var ns int64
		fmt.Sscan(string(data), &ns)
		sum += ns
	}
	return sum
}
