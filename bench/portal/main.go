// Command portal measures portal frontends side by side
// (bench/portal.sh): per-call latency over one connection
// (Settings.Read, Settings.ReadOne, NetworkMonitor.GetAvailable and
// GetStatus), a request round trip through a backend
// (Account.GetUserInformation answered by an in-process test backend) and
// the start-up time from exec to the bus name appearing. Every run gets a
// private dbus-daemon and a fresh directory; frontends are interleaved
// (A B B A …) and the report gives medians and ratios.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/godbus/dbus/v5"
)

const (
	desktopName = "org.freedesktop.portal.Desktop"
	desktopPath = dbus.ObjectPath("/org/freedesktop/portal/desktop")
	backendName = "org.freedesktop.impl.portal.Test"
	portalIface = "org.freedesktop.portal."
	implIface   = "org.freedesktop.impl.portal."
)

// frontend is one binary under test.
type frontend struct{ name, path string }

// measures: name → frontend → per-run values (seconds per call).
type results map[string]map[string][]float64

func main() {
	var (
		fronts   = flag.String("frontends", "", "NAME=PATH,NAME=PATH (the first is ours)")
		runs     = flag.Int("runs", 5, "counted runs per frontend")
		calls    = flag.Int("calls", 1000, "calls per latency measure")
		requests = flag.Int("requests", 200, "request round trips per run")
		tsv      = flag.String("tsv", "", "append 'measure ours theirs speed-up' lines to this file")
		dist     = flag.Bool("dist", false, "print per-call latency percentiles of every run on stderr")
	)
	flag.Parse()
	var fs []frontend
	for _, f := range strings.Split(*fronts, ",") {
		name, path, ok := strings.Cut(f, "=")
		if !ok {
			fmt.Fprintln(os.Stderr, "portal: -frontends wants NAME=PATH,…")
			os.Exit(2)
		}
		fs = append(fs, frontend{name, path})
	}
	res := results{}
	var order []string
	add := func(measure, front string, v float64) {
		if res[measure] == nil {
			res[measure] = map[string][]float64{}
			order = append(order, measure)
		}
		res[measure][front] = append(res[measure][front], v)
	}
	cfg := config{calls: *calls, requests: *requests, dist: *dist}
	// One warm-up run each (page cache, dynamic linker), not counted.
	for _, f := range fs {
		if err := runOnce(f, cfg, func(string, float64) {}); err != nil {
			fmt.Fprintf(os.Stderr, "portal: %s: %v\n", f.name, err)
			os.Exit(1)
		}
	}
	for r := 0; r < *runs; r++ {
		seq := fs
		if r%2 == 1 { // A B, B A, …
			seq = make([]frontend, len(fs))
			for i := range fs {
				seq[i] = fs[len(fs)-1-i]
			}
		}
		for _, f := range seq {
			err := runOnce(f, cfg, func(m string, v float64) { add(m, f.name, v) })
			if err != nil {
				fmt.Fprintf(os.Stderr, "portal: %s: %v\n", f.name, err)
				os.Exit(1)
			}
		}
	}
	report(os.Stdout, fs, order, res, *tsv)
}

func report(w io.Writer, fs []frontend, order []string, res results, tsv string) {
	var out *os.File
	if tsv != "" {
		out, _ = os.OpenFile(tsv, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		defer out.Close()
	}
	for _, m := range order {
		unit, scale := "µs", 1e6
		if strings.HasPrefix(m, "start-up") {
			unit, scale = "ms", 1e3
		}
		meds := map[string]float64{}
		for _, f := range fs {
			v := res[m][f.name]
			if len(v) == 0 {
				fmt.Fprintf(w, "%-40s %-22s (not available)\n", m, f.name)
				continue
			}
			sort.Float64s(v)
			med := median(v)
			meds[f.name] = med
			fmt.Fprintf(w, "%-40s %-22s median %9.1f %s  (min %.1f, max %.1f)\n", m, f.name, med*scale, unit, v[0]*scale, v[len(v)-1]*scale)
		}
		ours, ok := meds[fs[0].name]
		for _, f := range fs[1:] {
			theirs, ok2 := meds[f.name]
			if !ok || !ok2 {
				continue
			}
			fmt.Fprintf(w, "%-40s ratio %s/%s %.2f (speed-up %.2fx)\n", m, fs[0].name, f.name, ours/theirs, theirs/ours)
			if out != nil {
				fmt.Fprintf(out, "portal %s (vs %s)\t%.6f\t%.6f\t%.2f\n", m, f.name, ours, theirs, theirs/ours)
			}
		}
		fmt.Fprintln(w)
	}
}

func median(v []float64) float64 {
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

type config struct {
	calls, requests int
	dist            bool // per-call latency percentiles on stderr
}

// printDist prints the percentiles of one run's per-call latencies.
func printDist(w io.Writer, name string, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	q := func(f float64) float64 { return lat[int(f*float64(len(lat)-1))].Seconds() * 1e6 }
	fmt.Fprintf(w, "%-50s p50 %6.1f  p90 %6.1f  p99 %7.1f  max %8.1f µs\n", name, q(0.5), q(0.9), q(0.99), q(1))
}

// runOnce starts a private bus, the test backend and the frontend, then
// measures.
func runOnce(f frontend, cfg config, add func(string, float64)) error {
	dir, err := os.MkdirTemp("", "porthole-portalbench.")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	portals, run, home := filepath.Join(dir, "portals"), filepath.Join(dir, "run"), filepath.Join(dir, "home")
	for _, d := range []string{portals, run, home} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	// Interfaces and UseIn for 1.16 (Debian 12); portals.conf for 1.17+ and ours.
	if err := os.WriteFile(filepath.Join(portals, "test.portal"), []byte("[portal]\nDBusName="+backendName+
		"\nInterfaces="+implIface+"Settings;"+implIface+"Account;\nUseIn=test\n"), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(portals, "test-portals.conf"), []byte("[preferred]\ndefault=test\n"), 0o644); err != nil {
		return err
	}
	daemon, addr, err := startBus()
	if err != nil {
		return err
	}
	defer func() { daemon.Process.Kill(); daemon.Wait() }()

	be, err := dbus.Connect(addr)
	if err != nil {
		return err
	}
	defer be.Close()
	if err := startBackend(be); err != nil {
		return err
	}
	conn, err := dbus.Connect(addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	sigs := make(chan *dbus.Signal, 64)
	conn.Signal(sigs)
	if err := conn.AddMatchSignal(dbus.WithMatchSender("org.freedesktop.DBus"), dbus.WithMatchMember("NameOwnerChanged"), dbus.WithMatchArg(0, desktopName)); err != nil {
		return err
	}
	if err := conn.AddMatchSignal(dbus.WithMatchInterface(portalIface+"Request"), dbus.WithMatchMember("Response")); err != nil {
		return err
	}

	cmd := exec.Command(f.path)
	cmd.Env = append(os.Environ(), "DBUS_SESSION_BUS_ADDRESS="+addr, "HOME="+home, "XDG_RUNTIME_DIR="+run,
		"XDG_DESKTOP_PORTAL_DIR="+portals, "XDG_CURRENT_DESKTOP=test")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if os.Getenv("PORTALBENCH_VERBOSE") != "" {
		cmd.Stderr = os.Stderr
	}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGHUP)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}()
	if err := waitOwner(sigs, 20*time.Second); err != nil {
		return err
	}
	add("start-up to bus name (ms)", time.Since(t0).Seconds())

	bc, err := dialBlocking(addr)
	if err != nil {
		return err
	}
	defer bc.Close()
	obj := conn.Object(desktopName, desktopPath)
	type measure struct {
		name, method string
		args         []any
	}
	for _, m := range []measure{
		{"Settings.Read", "Settings.Read", []any{"org.freedesktop.appearance", "color-scheme"}},
		{"Settings.ReadOne", "Settings.ReadOne", []any{"org.freedesktop.appearance", "color-scheme"}},
		{"NetworkMonitor.GetAvailable", "NetworkMonitor.GetAvailable", nil},
		{"NetworkMonitor.GetStatus", "NetworkMonitor.GetStatus", nil},
	} {
		call := func() error { return obj.Call(portalIface+m.method, 0, m.args...).Err }
		if err := call(); err != nil {
			var de dbus.Error
			if errors.As(err, &de) && strings.HasSuffix(de.Name, "UnknownMethod") {
				continue // older frontend
			}
			return fmt.Errorf("%s: %w", m.method, err)
		}
		for range 50 {
			call()
		}
		cpu0 := cpuNS(cmd.Process.Pid)
		lat := make([]time.Duration, 0, cfg.calls)
		start := time.Now()
		for range cfg.calls {
			t := time.Now()
			if err := call(); err != nil {
				return fmt.Errorf("%s: %w", m.method, err)
			}
			lat = append(lat, time.Since(t))
		}
		add(m.name+" per call (µs)", time.Since(start).Seconds()/float64(cfg.calls))
		if cfg.dist {
			printDist(os.Stderr, f.name+" "+m.name, lat)
		}
		add(m.name+" frontend CPU per call (µs)", float64(cpuNS(cmd.Process.Pid)-cpu0)/1e9/float64(cfg.calls))

		// The same calls from a client that blocks in read(2) for each
		// reply, as libdbus and sd-bus clients do.
		msg, err := encodeCall(desktopName, string(desktopPath), portalIface+m.method, m.args...)
		if err != nil {
			return err
		}
		for range 50 {
			if err := bc.callEncoded(msg); err != nil {
				return fmt.Errorf("%s (blocking client): %w", m.method, err)
			}
		}
		start = time.Now()
		for range cfg.calls {
			if err := bc.callEncoded(msg); err != nil {
				return fmt.Errorf("%s (blocking client): %w", m.method, err)
			}
		}
		add(m.name+" per call, blocking client (µs)", time.Since(start).Seconds()/float64(cfg.calls))
	}

	// Request round trip: call, reply with the handle, Response signal.
	sender := strings.ReplaceAll(strings.TrimPrefix(conn.Names()[0], ":"), ".", "_")
	request := func(i int) error {
		token := fmt.Sprintf("b%d", i)
		want := dbus.ObjectPath(string(desktopPath) + "/request/" + sender + "/" + token)
		var handle dbus.ObjectPath
		if err := obj.Call(portalIface+"Account.GetUserInformation", 0, "", map[string]dbus.Variant{
			"handle_token": dbus.MakeVariant(token), "reason": dbus.MakeVariant("bench")}).Store(&handle); err != nil {
			return fmt.Errorf("Account.GetUserInformation: %w", err)
		}
		if handle != want {
			return fmt.Errorf("Account.GetUserInformation: handle %s, want %s", handle, want)
		}
		timeout := time.After(10 * time.Second)
		for {
			select {
			case s := <-sigs:
				if s.Path == want && s.Name == portalIface+"Request.Response" {
					if code, _ := s.Body[0].(uint32); code != 0 {
						return fmt.Errorf("Account.GetUserInformation: response %d", code)
					}
					return nil
				}
			case <-timeout:
				return errors.New("Account.GetUserInformation: no Response")
			}
		}
	}
	for i := range 20 {
		if err := request(i); err != nil {
			return err
		}
	}
	cpu0 := cpuNS(cmd.Process.Pid)
	start := time.Now()
	for i := range cfg.requests {
		if err := request(1000 + i); err != nil {
			return err
		}
	}
	add("Account request round trip (µs)", time.Since(start).Seconds()/float64(cfg.requests))
	add("Account request frontend CPU (µs)", float64(cpuNS(cmd.Process.Pid)-cpu0)/1e9/float64(cfg.requests))
	return nil
}

func waitOwner(sigs chan *dbus.Signal, d time.Duration) error {
	timeout := time.After(d)
	for {
		select {
		case s := <-sigs:
			if s.Name == "org.freedesktop.DBus.NameOwnerChanged" && len(s.Body) == 3 && s.Body[0] == desktopName && s.Body[2] != "" {
				return nil
			}
		case <-timeout:
			return fmt.Errorf("%s did not appear", desktopName)
		}
	}
}

// startBus runs a private session dbus-daemon and returns its address.
func startBus() (*exec.Cmd, string, error) {
	cmd := exec.Command("dbus-daemon", "--session", "--nofork", "--nopidfile", "--print-address=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("starting dbus-daemon: %w", err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, "", fmt.Errorf("reading the address of dbus-daemon: %w", err)
	}
	return cmd, strings.TrimSpace(line), nil
}

// backend is the test backend behind both frontends.
type settings struct{}

func (settings) Read(ns, key string) (dbus.Variant, *dbus.Error) {
	if ns == "org.freedesktop.appearance" && key == "color-scheme" {
		return dbus.MakeVariant(uint32(1)), nil
	}
	return dbus.Variant{}, dbus.NewError("org.freedesktop.portal.Error.NotFound", []any{"Requested setting not found"})
}

func (settings) ReadAll(nss []string) (map[string]map[string]dbus.Variant, *dbus.Error) {
	return map[string]map[string]dbus.Variant{"org.freedesktop.appearance": {"color-scheme": dbus.MakeVariant(uint32(1))}}, nil
}

type account struct{}

func (account) GetUserInformation(handle dbus.ObjectPath, appID, window string, opts map[string]dbus.Variant) (uint32, map[string]dbus.Variant, *dbus.Error) {
	return 0, map[string]dbus.Variant{"id": dbus.MakeVariant("bench"), "name": dbus.MakeVariant("Bench"), "image": dbus.MakeVariant("")}, nil
}

func startBackend(conn *dbus.Conn) error {
	if err := conn.Export(settings{}, desktopPath, implIface+"Settings"); err != nil {
		return err
	}
	if err := conn.Export(account{}, desktopPath, implIface+"Account"); err != nil {
		return err
	}
	reply, err := conn.RequestName(backendName, dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		return fmt.Errorf("cannot own %s: %v", backendName, err)
	}
	return nil
}

// cpuNS returns the CPU time (ns) the threads of pid have run.
func cpuNS(pid int) int64 {
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
