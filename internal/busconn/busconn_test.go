package busconn_test

import (
	"context"
	"os"
	"testing"

	"github.com/godbus/dbus/v5"
	"golang.org/x/sys/unix"

	"github.com/porthole-dev/porthole/internal/busconn"
	"github.com/porthole-dev/porthole/internal/busconn/busconntest"
	"github.com/porthole-dev/porthole/internal/testbus"
)

const (
	name  = "org.example.FDs"
	path  = dbus.ObjectPath("/org/example/FDs")
	iface = "org.example.FDs"
)

// server is the exported object; it reads what it takes.
type server struct {
	conn    *busconn.Conn
	backend string // forward target of Forward
}

func readFD(fd int) string {
	var b [64]byte
	n, _ := unix.Pread(fd, b[:], 0)
	unix.Close(fd)
	return string(b[:max(n, 0)])
}

// Take takes every descriptor of an ah and returns what each holds ("-"
// for a missing one).
func (s *server) Take(fds []dbus.UnixFDIndex) ([]string, *dbus.Error) {
	out := []string{}
	for _, v := range fds {
		if fd, ok := s.conn.TakeFD(v); ok {
			out = append(out, readFD(fd))
		} else {
			out = append(out, "-")
		}
	}
	return out, nil
}

// One takes a single h.
func (s *server) One(v dbus.UnixFDIndex) (string, *dbus.Error) {
	if fd, ok := s.conn.TakeFD(v); ok {
		return readFD(fd), nil
	}
	return "-", nil
}

// Options takes "fd" (h) and "fds" (ah) from an a{sv}.
func (s *server) Options(opts map[string]dbus.Variant) ([]string, *dbus.Error) {
	var vs []dbus.UnixFDIndex
	if v, ok := opts["fd"].Value().(dbus.UnixFDIndex); ok {
		vs = append(vs, v)
	}
	if v, ok := opts["fds"].Value().([]dbus.UnixFDIndex); ok {
		vs = append(vs, v...)
	}
	return s.Take(vs)
}

// Ignore takes nothing: the descriptors close when it returns.
func (s *server) Ignore(opts map[string]dbus.Variant) *dbus.Error { return nil }

// Forward passes the options on to the backend, unchanged.
func (s *server) Forward(opts map[string]dbus.Variant) ([]string, *dbus.Error) {
	var out []string
	err := s.conn.Object(s.backend, path).Call(iface+".Options", 0, opts).Store(&out)
	if err != nil {
		return nil, dbus.MakeFailedError(err)
	}
	return out, nil
}

// Lend opens a file and sends it to the backend with LendFD.
func (s *server) Lend(p string) ([]string, *dbus.Error) {
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, dbus.MakeFailedError(err)
	}
	defer unix.Close(fd)
	var out []string
	opts := map[string]dbus.Variant{"fds": dbus.MakeVariant([]dbus.UnixFDIndex{s.conn.LendFD(fd)})}
	if err := s.conn.Object(s.backend, path).Call(iface+".Options", 0, opts).Store(&out); err != nil {
		return nil, dbus.MakeFailedError(err)
	}
	return out, nil
}

func serve(t *testing.T, addr, busName, backend string) *server {
	t.Helper()
	c, err := busconn.Dial(context.Background(), addr, busconn.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s := &server{conn: c, backend: backend}
	if err := c.Export(s, path, iface); err != nil {
		t.Fatal(err)
	}
	if r, err := c.RequestName(busName, 0); err != nil || r != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("RequestName(%s) = %v, %v", busName, r, err)
	}
	return s
}

func strs(m *dbus.Message) []string {
	if m.Type == dbus.TypeError || len(m.Body) != 1 {
		return nil
	}
	s, _ := m.Body[0].([]string)
	return s
}

// TestHostile sends the shapes that crash godbus's own transport and
// checks each gets a correct answer and no descriptor stays behind.
func TestHostile(t *testing.T) {
	bus := testbus.New(t)
	serve(t, bus.Address(), name, "")
	cl := busconntest.Dial(t, bus.Address())
	ping := func() {
		t.Helper()
		if m := cl.Call(name, path, "org.freedesktop.DBus.Peer", "Ping", nil, -1); m.Type != dbus.TypeMethodReply {
			t.Fatalf("Ping = %v", m)
		}
	}
	ping()
	base := busconntest.FDCount(t, os.Getpid())
	idx := func(i ...uint32) []dbus.UnixFDIndex {
		out := make([]dbus.UnixFDIndex, len(i))
		for k, v := range i {
			out[k] = dbus.UnixFDIndex(v)
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		member  string
		body    []any
		nfds    int
		unixFDs int
		want    []string // nil: any error
	}{
		{"ah", "Take", []any{idx(0, 1)}, 2, -1, []string{"x", "x"}},
		{"ah twice the same", "Take", []any{idx(1, 1, 0)}, 2, -1, []string{"x", "-", "x"}},
		{"ah out of range", "Take", []any{idx(0, 7, 4294967295)}, 1, -1, []string{"x", "-", "-"}},
		{"ah without descriptors", "Take", []any{idx(0, 1)}, 0, -1, []string{"-", "-"}},
		{"more attached than referenced", "Take", []any{idx(2)}, 5, -1, []string{"x"}},
		{"h", "One", []any{dbus.UnixFDIndex(0)}, 3, -1, []string{}},
		{"a{sv} with h and ah", "Options", []any{map[string]dbus.Variant{
			"fd": dbus.MakeVariant(dbus.UnixFDIndex(2)), "fds": dbus.MakeVariant(idx(0, 1))}}, 3, -1, []string{"x", "x", "x"}},
		{"a{sv} nested", "Ignore", []any{map[string]dbus.Variant{
			"deep": dbus.MakeVariant(map[string]dbus.Variant{"x": dbus.MakeVariant([]any{idx(0), dbus.UnixFDIndex(1)})}),
			"dict": dbus.MakeVariant(map[string]dbus.UnixFDIndex{"a": 2}), "keys": dbus.MakeVariant(map[dbus.UnixFDIndex]string{3: "b"})}}, 4, -1, nil},
		{"wrong signature", "Take", []any{"no", idx(0)}, 2, -1, nil},
		{"unknown method", "Nope", []any{idx(0)}, 2, -1, nil},
		{"ignored", "Ignore", []any{map[string]dbus.Variant{"fds": dbus.MakeVariant(idx(0, 1))}}, 2, -1, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fds := busconntest.Files(t, tc.nfds, "x")
			m := cl.Call(name, path, iface, tc.member, tc.body, tc.unixFDs, fds...)
			for _, fd := range fds {
				unix.Close(fd)
			}
			switch {
			case tc.member == "One":
				if got, _ := m.Body[0].(string); got != "x" {
					t.Errorf("One = %v, want x", m.Body)
				}
			case tc.want == nil:
				if tc.member != "Ignore" && m.Type != dbus.TypeError {
					t.Errorf("%s = %v, want an error", tc.member, m.Body)
				}
			default:
				if got := strs(m); len(got) != len(tc.want) || len(got) > 0 && !equal(got, tc.want) {
					t.Errorf("%s = %v (%v), want %q", tc.member, got, m.Body, tc.want)
				}
			}
			ping()
			if n := busconntest.FDCount(t, os.Getpid()); n != base {
				t.Errorf("descriptors: %d, want %d", n, base)
			}
		})
	}
	// No reply expected: the descriptors still close once handled.
	fds := busconntest.Files(t, 2, "x")
	cl.Send(name, path, iface, "Ignore", dbus.FlagNoReplyExpected, []any{map[string]dbus.Variant{"fds": dbus.MakeVariant(idx(0, 1))}}, -1, fds...)
	for _, fd := range fds {
		unix.Close(fd)
	}
	ping()
	if n := busconntest.WaitFDCount(t, os.Getpid(), base); n != base {
		t.Errorf("descriptors after a no-reply call: %d, want %d", n, base)
	}
}

func equal(a, b []string) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestForward passes received descriptors on inside an a{sv}, and lends
// one of our own.
func TestForward(t *testing.T) {
	bus := testbus.New(t)
	serve(t, bus.Address(), name, name+".Backend")
	serve(t, bus.Address(), name+".Backend", "")
	client := bus.Conn(t)
	fds := busconntest.Files(t, 2, "fw")
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	opts := map[string]dbus.Variant{"fds": dbus.MakeVariant([]dbus.UnixFD{dbus.UnixFD(fds[0])}), "fd": dbus.MakeVariant(dbus.UnixFD(fds[1]))}
	// godbus's own transport sends this fine; only decoding it panics.
	var got []string
	if err := client.Object(name, path).Call(iface+".Forward", 0, opts).Store(&got); err != nil {
		t.Fatal(err)
	}
	if !equal(got, []string{"fw", "fw"}) || len(got) != 2 {
		t.Errorf("Forward = %q, want [fw fw]", got)
	}
	p := t.TempDir() + "/lent"
	os.WriteFile(p, []byte("lent"), 0o644)
	if err := client.Object(name, path).Call(iface+".Lend", 0, p).Store(&got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != "lent" {
		t.Errorf("Lend = %q, want [lent]", got)
	}
}

func TestDialAddresses(t *testing.T) {
	for _, addr := range []string{"unix:path=/nonexistent/bus", "unix:path=/run/my%20bus%2x", "unix:guid=1"} {
		if _, err := busconn.Dial(context.Background(), addr, busconn.Options{}); err == nil {
			t.Errorf("Dial(%q) succeeded", addr)
		}
	}
	bus := testbus.New(t)
	if c, err := busconn.Dial(context.Background(), "unix:path=/nonexistent;"+bus.Address(), busconn.Options{}); err != nil {
		t.Errorf("Dial(second entry): %v", err)
	} else {
		c.Close()
	}
}

// TestConcurrent has several clients send descriptors at once, some
// without waiting for replies and some leaving mid-call; no descriptor
// stays behind.
func TestConcurrent(t *testing.T) {
	bus := testbus.New(t)
	serve(t, bus.Address(), name, "")
	probe := busconntest.Dial(t, bus.Address())
	ping := func() {
		if m := probe.Call(name, path, "org.freedesktop.DBus.Peer", "Ping", nil, -1); m.Type != dbus.TypeMethodReply {
			t.Fatalf("Ping = %v", m)
		}
	}
	files := busconntest.Files(t, 3, "c")
	defer func() {
		for _, fd := range files {
			unix.Close(fd)
		}
	}()
	ping()
	base := busconntest.FDCount(t, os.Getpid())
	var clients []*busconntest.Client
	for range 6 {
		clients = append(clients, busconntest.Dial(t, bus.Address()))
	}
	opts := map[string]dbus.Variant{"fd": dbus.MakeVariant(dbus.UnixFDIndex(0)), "fds": dbus.MakeVariant([]dbus.UnixFDIndex{1, 2})}
	done := make(chan struct{})
	for i, cl := range clients {
		go func() {
			defer func() { done <- struct{}{} }()
			for k := range 40 {
				switch (i + k) % 3 {
				case 0:
					cl.Call(name, path, iface, "Options", []any{opts}, -1, files...)
				case 1:
					cl.Send(name, path, iface, "Ignore", dbus.FlagNoReplyExpected, []any{opts}, -1, files...)
				default:
					cl.Send(name, path, iface, "Take", 0, []any{[]dbus.UnixFDIndex{2, 0}}, -1, files...)
				}
			}
		}()
	}
	for range clients {
		<-done
	}
	// Leave with calls in flight.
	for _, cl := range clients {
		cl.Send(name, path, iface, "Options", 0, []any{opts}, -1, files...)
		cl.Close()
	}
	ping()
	if n := busconntest.WaitFDCount(t, os.Getpid(), base); n != base {
		t.Errorf("descriptors: %d, want %d", n, base)
	}
}
