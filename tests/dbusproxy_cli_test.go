package tests

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/godbus/dbus/v5"
)

// TestDBusProxyUnfiltered is upstream's test-proxy.c: without --filter,
// ListNames through the proxy lists the caller itself.
func TestDBusProxyUnfiltered(t *testing.T) {
	for _, which := range []string{"ours", "xdg"} {
		t.Run(which, func(t *testing.T) {
			bus := dpNewBus(t)
			sock := t.TempDir() + "/p"
			startDBusProxy(t, dbusProxyCommand(t, which), bus.Address(), sock)
			c := dbusProxyConnect(t, sock)
			var names []string
			if err := c.BusObject().Call("org.freedesktop.DBus.ListNames", 0).Store(&names); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(" "+strings.Join(names, " ")+" ", " "+c.Names()[0]+" ") {
				t.Errorf("ListNames = %v, want it to contain %s", names, c.Names()[0])
			}
		})
	}
}

// TestDBusProxyGroupsAndArgsFD: two ADDRESS PATH groups in one process,
// the second group's options read from --args=FD, NUL-separated.
func TestDBusProxyGroupsAndArgsFD(t *testing.T) {
	bus := dpNewBus(t)
	svc := bus.Conn(t)
	if _, err := svc.RequestName("org.test.Visible", 0); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	// The args pipe is fd 4 in the child (ExtraFiles[1]); fd 3 is --fd.
	w.WriteString(bus.Address() + "\x00" + dir + "/filtered\x00--filter\x00--see=org.test.Visible")
	w.Close()
	bin := dbusProxyCommand(t, "ours")
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin[0], bin[1], "--fd=3", bus.Address(), dir+"/open", "--args=4")
	cmd.ExtraFiles = []*os.File{pw, r}
	cmd.Stderr = &dbusProxyLog{t: t}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	r.Close()
	var x [1]byte
	if n, _ := pr.Read(x[:]); n != 1 || x[0] != 'x' {
		t.Fatal("no readiness byte")
	}
	list := func(sock string) string {
		c := dbusProxyConnect(t, sock)
		var names []string
		if err := c.BusObject().Call("org.freedesktop.DBus.ListNames", 0).Store(&names); err != nil {
			t.Fatal(err)
		}
		c.Close()
		sort.Strings(names)
		return dpNormalize(strings.Join(names, " "))
	}
	if got := list(dir + "/filtered"); got != ":1.N :1.N org.freedesktop.DBus org.test.Visible" {
		t.Errorf("filtered ListNames = %q", got)
	}
	if got := list(dir + "/open"); strings.Count(got, ":1.N") < 2 {
		t.Errorf("unfiltered ListNames = %q, want every connection", got)
	}
	// Closing the sync pipe stops the proxy and removes its sockets.
	pr.Close()
	if err := cmd.Wait(); err != nil {
		t.Errorf("proxy exit: %v", err)
	}
	for _, s := range []string{"/open", "/filtered"} {
		if _, err := os.Stat(dir + s); !os.IsNotExist(err) {
			t.Errorf("socket %s left behind: %v", s, err)
		}
	}
}

// TestDBusProxyCommandLineErrors: the same bad command lines fail the
// same way in both proxies.
func TestDBusProxyCommandLineErrors(t *testing.T) {
	xdg := dbusProxyCommand(t, "xdg")
	ours := dbusProxyCommand(t, "ours")
	for _, args := range [][]string{
		{},
		{"--bogus"},
		{"unix:path=/nonexistent"},
		{"unix:path=/nonexistent", "/tmp/x", "--see=:1.2"},
		{"unix:path=/nonexistent", "/tmp/x", "--talk=nodot"},
		{"unix:path=/nonexistent", "/tmp/x", "--call=org.a.B"},
		{"unix:path=/nonexistent", "/tmp/x", "--frobnicate"},
		{"--fd=x", "unix:path=/nonexistent", "/tmp/x"},
		{"--fd=3"},
	} {
		run := func(cmdline []string) (int, string) {
			var stderr bytes.Buffer
			cmd := exec.Command(cmdline[0], append(cmdline[1:], args...)...)
			cmd.Stderr = &stderr
			err := cmd.Run()
			code := 0
			if e, ok := err.(*exec.ExitError); ok {
				code = e.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			first, _, _ := strings.Cut(stderr.String(), "\n")
			return code, strings.ReplaceAll(first, cmdline[0], "PROG")
		}
		wantCode, wantMsg := run(xdg)
		gotCode, gotMsg := run(ours)
		if gotCode != wantCode || (len(args) > 0 && gotMsg != wantMsg) {
			t.Errorf("%q: porthole = %d %q, xdg-dbus-proxy = %d %q", args, gotCode, gotMsg, wantCode, wantMsg)
		}
	}
}

// TestDBusProxyFDPassingBothWays passes fds client→service and back
// through our proxy with a filter on (the differential covers the same
// against xdg-dbus-proxy); here many in a row, to check none goes astray.
func TestDBusProxyFDPassingBothWays(t *testing.T) {
	w := newDPWorld(t)
	sock := t.TempDir() + "/ours"
	startDBusProxy(t, dbusProxyCommand(t, "ours"), append([]string{w.addr, sock}, w.args...)...)
	c := dbusProxyConnect(t, sock, dbus.WithSignalHandler(dbus.NewSequentialSignalHandler()))
	for i := 0; i < 50; i++ {
		if got := dpFDToService("org.test.Talk")(t, w, c); got != "ok [through the pipe]" {
			t.Fatalf("fd to service #%d = %s", i, got)
		}
		if got := dpFDFromService("org.test.Talk")(t, w, c); got != "ok read [made by org.test.Talk]" {
			t.Fatalf("fd from service #%d = %s", i, got)
		}
	}
}

// TestDBusProxyHandOff: `porthole dbus-proxy` runs as porthole-dbus-proxy
// when that binary is next to porthole (the fast start), and in porthole
// itself when it is not; both proxy alike.
func TestDBusProxyHandOff(t *testing.T) {
	bin := dbusProxyCommand(t, "ours")
	alone := t.TempDir() + "/porthole"
	data, err := os.ReadFile(bin[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(alone, data, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ bin, wantExe string }{
		{bin[0], filepath.Join(filepath.Dir(bin[0]), "porthole-dbus-proxy")},
		{alone, alone},
	} {
		t.Run(filepath.Base(tc.wantExe), func(t *testing.T) {
			bus := dpNewBus(t)
			sock := t.TempDir() + "/p"
			cmd := startDBusProxy(t, []string{tc.bin, "dbus-proxy"}, bus.Address(), sock, "--filter")
			if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", cmd.Process.Pid)); err != nil || exe != tc.wantExe {
				t.Errorf("proxy runs %q (%v), want %q", exe, err, tc.wantExe)
			}
			var names []string
			if err := dbusProxyConnect(t, sock).BusObject().Call("org.freedesktop.DBus.ListNames", 0).Store(&names); err != nil {
				t.Fatal(err)
			}
			sort.Strings(names)
			if got := dpNormalize(strings.Join(names, " ")); got != ":1.N org.freedesktop.DBus" {
				t.Errorf("ListNames = %q", got)
			}
		})
	}
}
