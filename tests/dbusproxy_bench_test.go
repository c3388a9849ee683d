package tests

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/porthole-dev/porthole/launcher/dbusproxy"
)

// Benchmarks of porthole dbus-proxy against xdg-dbus-proxy; bench/dbusproxy.sh
// runs them in one go and prints the ratios.

// BenchmarkDBusProxyRoundTrip measures one method call and its reply,
// directly on the bus and through each proxy (filtering on, the
// differential test's policy): to the bus driver (GetId) and to a peer
// (Echo on a godbus service).
func BenchmarkDBusProxyRoundTrip(b *testing.B) {
	w := newDPWorld(b)
	dir := b.TempDir()
	socks := map[string]string{"direct": ""}
	for _, which := range []string{"xdg", "ours"} {
		socks[which] = dir + "/" + which
		startDBusProxy(b, dbusProxyCommand(b, which), append([]string{w.addr, socks[which]}, w.args...)...)
	}
	conns := map[string]*dbus.Conn{}
	for _, which := range []string{"direct", "xdg", "ours"} {
		if which == "direct" {
			c, err := dbus.Connect(w.addr)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			conns[which] = c
		} else {
			conns[which] = dbusProxyConnect(b, socks[which])
		}
	}
	call := func(b *testing.B, c *dbus.Conn, target string) {
		obj := c.BusObject()
		method := "org.freedesktop.DBus.GetId"
		var args []any
		if target == "peer" {
			obj = c.Object("org.test.Talk", "/org/test/Obj")
			method, args = dpIface+".Echo", []any{"x"}
		}
		if err := obj.Call(method, 0, args...).Err; err != nil {
			b.Fatal(err)
		}
	}
	for _, target := range []string{"bus", "peer"} {
		for _, which := range []string{"direct", "xdg", "ours"} {
			b.Run(target+"/"+which, func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					call(b, conns[which], target)
				}
			})
		}
	}
	// Batches of calls, direct and through each proxy in turn, so that the
	// load of a busy machine weighs on all alike: each reports the median
	// time of a call over its batches (metrics bus-direct-ns, …).
	b.Run("interleaved", func(b *testing.B) {
		const batch = 20
		times := map[string][]time.Duration{}
		for i := 0; i < b.N; i++ {
			for _, target := range []string{"bus", "peer"} {
				for _, which := range []string{"direct", "xdg", "ours"} {
					t0 := time.Now()
					for j := 0; j < batch; j++ {
						call(b, conns[which], target)
					}
					times[target+"-"+which] = append(times[target+"-"+which], time.Since(t0)/batch)
				}
			}
		}
		for k, ts := range times {
			slices.Sort(ts)
			b.ReportMetric(float64(ts[len(ts)/2].Nanoseconds()), k+"-ns")
		}
	})
}

// BenchmarkDBusProxyStartup measures exec to the readiness byte on --fd,
// then stops the proxy by closing the pipe (metrics xdg-ns and ours-ns). "inprocess" is what a launcher
// that serves the proxy from its own process pays: New, Listen, ready.
func BenchmarkDBusProxyStartup(b *testing.B) {
	bus := dpNewBus(b)
	dir := b.TempDir()
	b.Run("inprocess", func(b *testing.B) {
		p, err := dbusproxy.SessionBusPolicy("org.example.App", nil)
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; i < b.N; i++ {
			px, err := dbusproxy.New(bus.Address(), p, nil)
			if err != nil {
				b.Fatal(err)
			}
			l, err := dbusproxy.Listen(dir + "/inprocess")
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- px.Serve(ctx, l) }()
			b.StopTimer()
			cancel()
			<-done
			b.StartTimer()
		}
	})
	// Both proxies in turn at each iteration, so that the load of a busy
	// machine weighs on both alike; each reports the median of its runs.
	b.Run("interleaved", func(b *testing.B) {
		args := append([]string{bus.Address(), ""}, "--filter", "--own=org.example.App.*", "--talk=org.freedesktop.portal.*")
		times := map[string][]time.Duration{}
		for i := 0; i < b.N; i++ {
			for _, which := range []string{"xdg", "ours"} {
				cmdline := dbusProxyCommand(b, which)
				args[1] = dir + "/" + which
				times[which] = append(times[which], dpStartOnce(b, cmdline, args))
			}
		}
		for which, ts := range times {
			slices.Sort(ts)
			b.ReportMetric(float64(ts[len(ts)/2].Nanoseconds()), which+"-ns")
		}
	})
}

// dpStartOnce runs a proxy, waits for its readiness byte, stops it and
// returns the time from exec to readiness.
func dpStartOnce(b *testing.B, cmdline, args []string) time.Duration {
	r, w, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(cmdline[0], append(append(cmdline[1:], "--fd=3"), args...)...)
	cmd.ExtraFiles = []*os.File{w}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	w.Close()
	var x [1]byte
	if n, _ := r.Read(x[:]); n != 1 {
		b.Fatal("no readiness byte")
	}
	d := time.Since(t0)
	r.Close()
	cmd.Wait()
	return d
}

// BenchmarkDBusProxyMemory reports the resident memory a proxy process
// gains per connected client: 60 godbus clients warm it up (Go's heap grows
// to its first GC goals there), then 160 more are measured, each after Hello
// and one call (the test bus takes 256 connections per user; more measured
// clients make Go's stepwise heap growth weigh less). KiB-idle is the
// resident size with one client. Run it with -benchtime=1x.
func BenchmarkDBusProxyMemory(b *testing.B) {
	w := newDPWorld(b)
	dir := b.TempDir()
	const warm, clients = 60, 160
	for _, which := range []string{"xdg", "ours"} {
		b.Run(which, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				sock := fmt.Sprintf("%s/%s%d", dir, which, i)
				cmd := startDBusProxy(b, dbusProxyCommand(b, which), append([]string{w.addr, sock}, w.args...)...)
				var conns []*dbus.Conn
				connect := func(n int) {
					for j := 0; j < n; j++ {
						c, err := dbus.Connect("unix:path=" + sock)
						if err != nil {
							b.Fatal(err)
						}
						if err := c.Object("org.test.Talk", "/org/test/Obj").Call(dpIface+".Echo", 0, "x").Err; err != nil {
							b.Fatal(err)
						}
						conns = append(conns, c)
					}
				}
				connect(1)
				idle := dpRSSKiB(b, cmd.Process.Pid)
				connect(warm - 1)
				before := dpRSSKiB(b, cmd.Process.Pid)
				connect(clients)
				after := dpRSSKiB(b, cmd.Process.Pid)
				b.ReportMetric(float64(after-before)/clients, "KiB/client")
				b.ReportMetric(float64(idle), "KiB-idle")
				for _, c := range conns {
					c.Close()
				}
			}
		})
	}
}

// dpRSSKiB reads VmRSS of pid.
func dpRSSKiB(b *testing.B, pid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.Fields(v)[0])
			return n
		}
	}
	b.Fatal("no VmRSS")
	return 0
}
