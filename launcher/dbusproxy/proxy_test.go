package dbusproxy

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/porthole-dev/porthole/internal/testbus"
	"golang.org/x/sys/unix"
)

// startProxy serves p for the bus at busAddr in this process until the
// test ends and returns the socket path.
func startProxy(t testing.TB, busAddr string, p Policy, trace io.Writer) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "proxy")
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var logBuf strings.Builder
	var logMu sync.Mutex
	logger := slog.New(slog.NewTextHandler(writerFunc(func(b []byte) (int, error) {
		logMu.Lock()
		defer logMu.Unlock()
		return logBuf.Write(b)
	}), nil))
	go func() { done <- Serve(ctx, l, busAddr, p, &Options{Logger: logger, Trace: trace}) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve = %v", err)
		}
		logMu.Lock()
		if s := logBuf.String(); s != "" && testing.Verbose() {
			t.Logf("proxy log:\n%s", s)
		}
		logMu.Unlock()
	})
	return path
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// rawConn is a hand-driven D-Bus client, to send what godbus never would.
type rawConn struct {
	t      testing.TB
	c      *net.UnixConn
	rd     *reader
	serial uint32
	unique string
}

func dialRaw(t testing.TB, path string) *rawConn {
	t.Helper()
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c, rd: newReader(connFD(t, c), MaxMessageSize)}
}

// connFD returns the fd of c, for a reader; c keeps it.
func connFD(t testing.TB, c *net.UnixConn) int {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	fd := -1
	rc.Control(func(f uintptr) { fd = int(f) })
	return fd
}

// waitFill fills rd, waiting as long as it takes.
func waitFill(rd *reader) error {
	for {
		err := rd.fill()
		if err != errWouldBlock {
			return err
		}
		fds := []unix.PollFd{{Fd: int32(rd.fd), Events: unix.POLLIN}}
		if _, err := unix.Ppoll(fds, nil, nil); err != nil && err != unix.EINTR {
			return err
		}
	}
}

// auth authenticates with EXTERNAL and negotiates fd passing.
func (r *rawConn) auth() {
	r.t.Helper()
	uid := hex.EncodeToString([]byte(strconv.Itoa(os.Getuid())))
	r.write([]byte("\x00AUTH EXTERNAL " + uid + "\r\n"))
	if l := r.line(); !strings.HasPrefix(l, "OK ") {
		r.t.Fatalf("AUTH answered %q", l)
	}
	r.write([]byte("NEGOTIATE_UNIX_FD\r\n"))
	if l := r.line(); l != "AGREE_UNIX_FD\r\n" {
		r.t.Fatalf("NEGOTIATE_UNIX_FD answered %q", l)
	}
	r.write([]byte("BEGIN\r\n"))
}

// hello authenticates and says Hello.
func (r *rawConn) hello() {
	r.t.Helper()
	r.auth()
	s := r.call(busName, "/org/freedesktop/DBus", busName, "Hello", "")
	h, m := r.reply(s)
	args, ok := h.stringArgs(m, 1)
	if !ok {
		r.t.Fatalf("Hello reply has no name")
	}
	r.unique = args[0]
}

func (r *rawConn) write(b []byte) {
	r.t.Helper()
	if _, err := r.c.Write(b); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rawConn) line() string {
	r.t.Helper()
	for {
		l, err := r.rd.line()
		if err != nil {
			r.t.Fatal(err)
		}
		if l != nil {
			return string(l)
		}
		if err := waitFill(r.rd); err != nil {
			r.t.Fatalf("reading auth line: %v", err)
		}
	}
}

// callMsg builds a call with the next serial and an optional string arg.
func (r *rawConn) callMsg(dest, path, iface, member, arg string) ([]byte, uint32) {
	r.serial++
	b := newCall(r.serial, 0, dest, path, iface, member)
	if arg != "" {
		b.sig = "s"
		b.appendString(arg)
	}
	return b.bytes(), r.serial
}

func (r *rawConn) call(dest, path, iface, member, arg string) uint32 {
	m, s := r.callMsg(dest, path, iface, member, arg)
	r.write(m)
	return s
}

// next reads the next message; err is io.EOF when the proxy hung up.
func (r *rawConn) next() (*header, []byte, error) {
	for {
		m, err := r.rd.message()
		if err != nil {
			return nil, nil, err
		}
		if m != nil {
			m = append([]byte(nil), m...)
			h, err := parseHeader(m, true)
			return h, m, err
		}
		if err := waitFill(r.rd); err != nil {
			return nil, nil, err
		}
	}
}

// reply skips signals until the reply to serial.
func (r *rawConn) reply(serial uint32) (*header, []byte) {
	r.t.Helper()
	for {
		h, m, err := r.next()
		if err != nil {
			r.t.Fatalf("waiting for the reply to %d: %v", serial, err)
		}
		if h.typ == typeSignal {
			continue
		}
		if !h.hasReplySerial || h.replySerial != serial {
			r.t.Fatalf("got reply to %d (%+v), want reply to %d", h.replySerial, h, serial)
		}
		return h, m
	}
}

// expectHangUp reads until the proxy closes the connection.
func (r *rawConn) expectHangUp() {
	r.t.Helper()
	for {
		if _, _, err := r.next(); err != nil {
			if !isClosed(err) {
				r.t.Fatalf("read error %v, want the proxy to hang up", err)
			}
			return
		}
	}
}

func testPolicy() Policy {
	p := Policy{Filter: true}
	p.SetLevel("org.test.Talk", LevelTalk)
	p.SetLevel("org.test.See", LevelSee)
	p.SetLevel("org.test.Own.*", LevelOwn)
	return p
}

// checkAlive makes a round trip through a well-behaved godbus client.
func checkAlive(t *testing.T, good *dbus.Conn) {
	t.Helper()
	if err := good.BusObject().Call("org.freedesktop.DBus.GetId", 0).Err; err != nil {
		t.Fatalf("the well-behaved client broke: %v", err)
	}
}

func TestBadClientsCloseOnlyThemselves(t *testing.T) {
	bus := testbus.New(t)
	path := startProxy(t, bus.Address(), testPolicy(), nil)
	good, err := dbus.Connect("unix:path=" + path)
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	le := binary.LittleEndian
	for _, tc := range []struct {
		name  string
		hello bool // authenticate and say Hello first
		send  func(r *rawConn) []byte
	}{
		{"lowercase auth line", false, func(*rawConn) []byte { return []byte("\x00auth EXTERNAL 30\r\n") }},
		{"control character in auth", false, func(*rawConn) []byte { return []byte("\x00AUTH EXTERNAL\x01 30\r\n") }},
		{"non-ASCII auth", false, func(*rawConn) []byte { return []byte("\x00AUTH EXTERNAL \xff\r\n") }},
		{"16 KiB without newline", false, func(*rawConn) []byte {
			return append([]byte("\x00AUTH "), strings.Repeat("A", maxAuthLine)...)
		}},
		{"bad endianness", true, func(*rawConn) []byte { return []byte("X\x01\x00\x01\x00\x00\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00") }},
		{"bad protocol version", true, func(r *rawConn) []byte {
			m, _ := r.callMsg(busName, "/", busName, "GetId", "")
			m[3] = 2
			return m
		}},
		{"oversized body", true, func(r *rawConn) []byte {
			m, _ := r.callMsg(busName, "/", busName, "GetId", "")
			le.PutUint32(m[4:], MaxMessageSize)
			return m
		}},
		{"oversized header", true, func(r *rawConn) []byte {
			m, _ := r.callMsg(busName, "/", busName, "GetId", "")
			le.PutUint32(m[12:], 1<<27)
			return m
		}},
		{"unknown header field", true, func(r *rawConn) []byte {
			r.serial++
			b := newCall(r.serial, 0, busName, "/", busName, "GetId")
			b.stringField(99, 's', "x")
			return b.bytes()
		}},
		{"truncated string", true, func(r *rawConn) []byte {
			m, _ := r.callMsg(busName, "/", busName, "GetId", "")
			le.PutUint32(m[20:], 1000) // the path's length
			return m
		}},
		{"method call without member", true, func(r *rawConn) []byte {
			r.serial++
			b := &builder{typ: typeMethodCall, serial: r.serial}
			b.stringField(fieldPath, 'o', "/")
			return b.bytes()
		}},
		{"serial in the proxy's range", true, func(r *rawConn) []byte {
			r.serial = firstFakeSerial
			m, _ := r.callMsg(busName, "/", busName, "GetId", "")
			return m
		}},
		{"fds missing", true, func(r *rawConn) []byte {
			r.serial++
			b := newCall(r.serial, 0, busName, "/", busName, "GetId")
			b.uint32Field(fieldUnixFDs, 1)
			return b.bytes()
		}},
		{"local disconnect signal", true, func(r *rawConn) []byte {
			r.serial++
			b := &builder{typ: typeSignal, serial: r.serial}
			b.stringField(fieldPath, 'o', "/org/freedesktop/DBus/Local")
			b.stringField(fieldInterface, 's', "org.freedesktop.DBus.Local")
			b.stringField(fieldMember, 's', "Disconnected")
			return b.bytes()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := dialRaw(t, path)
			if tc.hello {
				r.hello()
			}
			r.write(tc.send(r))
			r.expectHangUp()
			checkAlive(t, good)
		})
	}
}

// TestRefusedCallsKeepOrder pipelines allowed and refused calls and wants
// the answers in the order of the calls, errors well formed.
func TestRefusedCallsKeepOrder(t *testing.T) {
	bus := testbus.New(t)
	path := startProxy(t, bus.Address(), testPolicy(), nil)
	r := dialRaw(t, path)
	r.hello()
	type want struct {
		serial uint32
		err    string
		body   string
	}
	var batch []byte
	var wants []want
	add := func(dest, iface, member, arg, err string) {
		m, s := r.callMsg(dest, "/org/freedesktop/DBus", iface, member, arg)
		batch = append(batch, m...)
		wants = append(wants, want{s, err, ""})
	}
	for i := 0; i < 5; i++ {
		add(busName, busName, "GetId", "", "")
		add("org.test.Hidden", "org.test.I", "M", "", errUnknown)
		add(busName, busName, "BecomeMonitor", "", errAccessDenied)
		add(busName, busName, "GetNameOwner", "org.test.Hidden", errNoOwner)
		add("org.test.See", "org.test.I", "M", "", errAccessDenied)
		add(busName, busName, "NameHasOwner", "org.test.Hidden", "")
		add(busName, busName, "AddMatch", "eavesdrop='true'", errAccessDenied)
		add(busName, busName, "RequestName", "org.test.Talk", errAccessDenied)
	}
	r.write(batch)
	var last uint32
	for _, w := range wants {
		h, m := r.reply(w.serial)
		if h.serial <= last {
			t.Errorf("reply serial %d after %d: serials from the bus must increase", h.serial, last)
		}
		last = h.serial
		if w.err == "" {
			if h.typ != typeMethodReturn {
				t.Errorf("call %d answered with %s, want a return", w.serial, h.errName)
			}
			continue
		}
		args, ok := h.stringArgs(m, 1)
		if h.typ != typeError || h.errName != w.err || !ok || args[0] != w.err {
			t.Errorf("call %d answered %d %s %q, want error %s", w.serial, h.typ, h.errName, args, w.err)
		}
	}
}

// TestUnfiltered passes everything, fds included, without --filter.
func TestUnfiltered(t *testing.T) {
	bus := testbus.New(t)
	svc := bus.Conn(t)
	if _, err := svc.RequestName("org.test.Hidden", 0); err != nil {
		t.Fatal(err)
	}
	path := startProxy(t, bus.Address(), Policy{}, nil)
	c, err := dbus.Connect("unix:path=" + path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var names []string
	if err := c.BusObject().Call("org.freedesktop.DBus.ListNames", 0).Store(&names); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(names, " "), "org.test.Hidden") || !strings.Contains(strings.Join(names, " "), c.Names()[0]) {
		t.Errorf("ListNames without filter = %v, want every name", names)
	}
}

// TestTraceFormat checks a few --log lines against xdg-dbus-proxy's format.
func TestTraceFormat(t *testing.T) {
	bus := testbus.New(t)
	var mu sync.Mutex
	var trace strings.Builder
	path := startProxy(t, bus.Address(), testPolicy(), writerFunc(func(b []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return trace.Write(b)
	}))
	r := dialRaw(t, path)
	r.hello()
	s := r.call("org.test.Hidden", "/x", "org.test.I", "M", "")
	r.reply(s)
	mu.Lock()
	got := trace.String()
	mu.Unlock()
	for _, want := range []string{
		"C1: -> org.freedesktop.DBus call org.freedesktop.DBus.Hello at /org/freedesktop/DBus\n",
		"fake AddMatch for org.test.Talk\n",
		"fake wildcarded AddMatch for org.test.Own\n",
		"fake GetNameOwner for org.test.See\n",
		"fake ListNames\n",
		"B1: <- org.freedesktop.DBus return from C1\n",
		"*SKIPPED*\n",
		fmt.Sprintf("C%d: -> org.test.Hidden call org.test.I.M at /x\n*HIDDEN* (ping)\n", s),
		fmt.Sprintf("return from C%d\n*REWRITTEN*\n", s),
	} {
		if !strings.Contains(got, want) {
			t.Errorf("trace lacks %q; trace:\n%s", want, got)
		}
	}
}

// TestDialBusHook: the launcher's dialler opens the bus side.
func TestDialBusHook(t *testing.T) {
	bus := testbus.New(t)
	var mu sync.Mutex
	dials := 0
	px, err := New(bus.Address(), testPolicy(), &Options{DialBus: func(ctx context.Context) (*net.UnixConn, error) {
		mu.Lock()
		dials++
		mu.Unlock()
		return dialBus(ctx, bus.Address())
	}})
	if err != nil {
		t.Fatal(err)
	}
	a, b, err := socketPair()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- px.ServeConn(context.Background(), a) }()
	r := &rawConn{t: t, c: b, rd: newReader(connFD(t, b), MaxMessageSize)}
	r.hello()
	if !strings.HasPrefix(r.unique, ":") {
		t.Errorf("Hello through ServeConn = %q", r.unique)
	}
	b.Close()
	if err := <-done; err != nil {
		t.Errorf("ServeConn = %v", err)
	}
	if dials != 1 {
		t.Errorf("DialBus called %d times, want 1", dials)
	}
}

// socketPair returns two connected unix stream sockets.
func socketPair() (*net.UnixConn, *net.UnixConn, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	var conns [2]*net.UnixConn
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "socketpair")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			return nil, nil, err
		}
		conns[i] = c.(*net.UnixConn)
	}
	return conns[0], conns[1], nil
}

// TestPipelinedClient sends SASL, Hello and a call to the unique name of a
// talkable name in one write (as sd-bus and zbus do): the proxy answers
// the SASL lines in order and holds the call until it has learnt who owns
// the name, so the call passes.
func TestPipelinedClient(t *testing.T) {
	bus := testbus.New(t)
	svc := bus.Conn(t)
	if _, err := svc.RequestName("org.test.Talk", 0); err != nil {
		t.Fatal(err)
	}
	if err := svc.Export(echo{}, "/x", "org.test.I"); err != nil {
		t.Fatal(err)
	}
	path := startProxy(t, bus.Address(), testPolicy(), nil)
	r := dialRaw(t, path)
	uid := hex.EncodeToString([]byte(strconv.Itoa(os.Getuid())))
	msgs := []byte("\x00AUTH EXTERNAL " + uid + "\r\nNEGOTIATE_UNIX_FD\r\nBEGIN\r\n")
	hello, hs := r.callMsg(busName, "/org/freedesktop/DBus", busName, "Hello", "")
	call, cs := r.callMsg(svc.Names()[0], "/x", "org.test.I", "Echo", "ping")
	r.write(append(append(msgs, hello...), call...))
	if l := r.line(); !strings.HasPrefix(l, "OK ") {
		t.Fatalf("AUTH answered %q", l)
	}
	if l := r.line(); l != "AGREE_UNIX_FD\r\n" {
		t.Fatalf("NEGOTIATE_UNIX_FD answered %q", l)
	}
	r.reply(hs)
	h, m := r.reply(cs)
	args, _ := h.stringArgs(m, 1)
	if h.typ != typeMethodReturn || len(args) != 1 || args[0] != "ping" {
		t.Errorf("call to the talkable name's owner = %d %s %q, want return \"ping\"", h.typ, h.errName, args)
	}
}

type echo struct{}

func (echo) Echo(s string) (string, *dbus.Error) { return s, nil }

// TestClientRepliesOnlyToItsCallers: a peer calls the client; a reply the
// client aims at another peer is dropped, the one to the caller passes.
func TestClientRepliesOnlyToItsCallers(t *testing.T) {
	bus := testbus.New(t)
	caller := bus.Conn(t)
	addrs, err := parseAddress(bus.Address())
	if err != nil {
		t.Fatal(err)
	}
	bystander := dialRaw(t, addrs[0].Name)
	bystander.hello()
	path := startProxy(t, bus.Address(), testPolicy(), nil)
	r := dialRaw(t, path)
	r.hello()

	call := caller.Object(r.unique, "/c").Go("org.test.C.Ask", 0, nil)
	var h *header
	for {
		var err error
		if h, _, err = r.next(); err != nil {
			t.Fatal(err)
		}
		if h.typ == typeMethodCall && h.member == "Ask" {
			break
		}
	}
	reply := func(dest string) []byte {
		r.serial++
		b := &builder{typ: typeMethodReturn, serial: r.serial}
		b.uint32Field(fieldReplySerial, h.serial)
		b.stringField(fieldDestination, 's', dest)
		b.sig = "s"
		b.appendString("answer for " + dest)
		return b.bytes()
	}
	r.write(reply(bystander.unique))
	r.write(reply(h.sender))
	<-call.Done
	var got string
	if err := call.Store(&got); err != nil || got != "answer for "+h.sender {
		t.Errorf("caller got %q, %v", got, err)
	}
	s := bystander.call(busName, "/org/freedesktop/DBus", busName, "GetId", "")
	for {
		bh, _, err := bystander.next()
		if err != nil {
			t.Fatal(err)
		}
		if bh.typ == typeSignal {
			continue
		}
		if bh.replySerial != s {
			t.Errorf("the bystander received a reply to %d from %s it never asked for", bh.replySerial, bh.sender)
		}
		break
	}
}

// TestSerialsOutOfOrder: serials need not increase (godbus clients calling
// from several goroutines send them out of order); each answer carries its
// call's serial.
func TestSerialsOutOfOrder(t *testing.T) {
	bus := testbus.New(t)
	path := startProxy(t, bus.Address(), testPolicy(), nil)
	r := dialRaw(t, path)
	r.hello()
	var batch []byte
	serials := []uint32{10, 7, 12, 8}
	for i, s := range serials {
		r.serial = s - 1
		dest := busName
		if i%2 == 1 {
			dest = "org.test.Hidden" // refused: answered through a Ping
		}
		m, _ := r.callMsg(dest, "/org/freedesktop/DBus", busName, "GetId", "")
		batch = append(batch, m...)
	}
	r.write(batch)
	for _, s := range serials {
		r.reply(s)
	}

	c, err := dbus.Connect("unix:path=" + path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				if err := c.BusObject().Call("org.freedesktop.DBus.GetId", 0).Err; err != nil {
					t.Errorf("concurrent godbus call: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestIdleClientsHoldNoGoroutine: once clients are idle, no goroutine is
// left per client, and both sides of each come back to life: a call from
// the client, a signal from the bus.
func TestIdleClientsHoldNoGoroutine(t *testing.T) {
	bus := testbus.New(t)
	svc := bus.Conn(t)
	if _, err := svc.RequestName("org.test.Talk", 0); err != nil {
		t.Fatal(err)
	}
	path := startProxy(t, bus.Address(), testPolicy(), nil)
	first := dialRaw(t, path)
	first.hello() // starts the poller and its sweeper
	base := runtime.NumGoroutine()
	const n = 20
	var clients []*rawConn
	for i := 0; i < n; i++ {
		r := dialRaw(t, path)
		r.hello()
		r.reply(r.call(busName, "/org/freedesktop/DBus", busName, "AddMatch", "type='signal',sender='org.test.Talk'"))
		clients = append(clients, r)
	}
	// The sweeper lets idle sides go within two idleAfter periods; wait
	// for that with a generous bound (a loaded machine may be slow).
	for i := 0; runtime.NumGoroutine() > base; i++ {
		if i == 1000 {
			t.Fatalf("%d goroutines with %d idle clients, %d before them", runtime.NumGoroutine(), n, base)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, r := range clients {
		r.reply(r.call(busName, "/org/freedesktop/DBus", busName, "GetId", ""))
	}
	if err := svc.Emit("/org/test/Obj", "org.test.Iface.Ping"); err != nil {
		t.Fatal(err)
	}
	for i, r := range clients {
		h, _, err := r.next()
		if err != nil || h.typ != typeSignal || h.member != "Ping" {
			t.Fatalf("client %d: got %+v, %v; want the Ping signal", i, h, err)
		}
	}
}

// dialBus is dialBusFD for a DialBus hook, which returns a *net.UnixConn.
func dialBus(ctx context.Context, addr string) (*net.UnixConn, error) {
	fd, err := dialBusFD(ctx, addr)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), addr)
	c, err := net.FileConn(f) // a duplicate, registered with the runtime's poller
	f.Close()
	if err != nil {
		return nil, err
	}
	return c.(*net.UnixConn), nil
}
