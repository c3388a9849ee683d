package dbusproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Errors of this package. Connection-level errors close only the client
// that caused them.
var (
	ErrMalformed  = errors.New("malformed D-Bus message")
	ErrTooLarge   = errors.New("D-Bus message too large")
	ErrFDs        = errors.New("file descriptors do not match the message")
	ErrBadAuth    = errors.New("invalid authentication line")
	ErrBadSerial  = errors.New("invalid client serial")
	ErrBadPolicy  = errors.New("invalid bus policy")
	ErrBadAddress = errors.New("unsupported D-Bus address")
	ErrInternal   = errors.New("internal error")
)

// Options tune a Proxy. The zero value is ready to use.
type Options struct {
	// Logger receives warnings (a client closed for a malformed message, a
	// bus that cannot be reached…). Nil discards them.
	Logger *slog.Logger
	// Trace, when not nil, receives one line per message and per filtering
	// decision, in the format of xdg-dbus-proxy --log. Only filtering
	// proxies trace, as xdg-dbus-proxy.
	Trace io.Writer
	// MaxMessageSize bounds each message; 0 means MaxMessageSize, the
	// specification's limit.
	MaxMessageSize int
	// DialBus, when not nil, opens each client's connection to the bus
	// instead of dialling the address. The bus identifies the client by
	// the process that called connect(2) (SO_PEERCRED), and portals read
	// /proc/PID/root/.flatpak-info of that process: a launcher can connect
	// from a long-lived process inside the sandbox and hand the socket
	// over, so portals see the app and not the host. It is called once per
	// client, from a goroutine of its own: it may block.
	DialBus func(ctx context.Context) (*net.UnixConn, error)
}

// Proxy forwards clients to one bus, filtered by one Policy. Its methods
// may be called from several goroutines.
type Proxy struct {
	rules   *rules
	log     *slog.Logger
	trace   io.Writer
	traceMu sync.Mutex
	max     int
	dial    func(ctx context.Context) (*net.UnixConn, error) // Options.DialBus
	addr    string                                           // the bus, when dial is nil
	lp      *loop
}

// New checks the policy and returns a proxy to the bus at busAddr (a D-Bus
// address: unix:path=… or unix:abstract=…, several separated by ';').
func New(busAddr string, p Policy, opts *Options) (*Proxy, error) {
	if _, err := parseAddress(busAddr); err != nil {
		return nil, err
	}
	r, err := compile(p)
	if err != nil {
		return nil, err
	}
	if opts == nil {
		opts = &Options{}
	}
	px := &Proxy{rules: r, log: opts.Logger, trace: opts.Trace, max: opts.MaxMessageSize, dial: opts.DialBus, lp: theLoop()}
	if px.dial == nil {
		px.addr = busAddr // (start dials it without a *net.UnixConn)
	}
	if px.log == nil {
		px.log = slog.New(slog.DiscardHandler)
	}
	if px.max <= 0 || px.max > MaxMessageSize {
		px.max = MaxMessageSize
	}
	return px, nil
}

// Serve is New followed by Proxy.Serve.
func Serve(ctx context.Context, l *net.UnixListener, busAddr string, p Policy, opts *Options) error {
	px, err := New(busAddr, p, opts)
	if err != nil {
		return err
	}
	return px.Serve(ctx, l)
}

// Listen removes whatever is at path and listens there, as xdg-dbus-proxy
// does. The socket file is removed again when the listener is closed.
func Listen(path string) (*net.UnixListener, error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("removing %s: %w", path, err)
	}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, err
	}
	l.SetUnlinkOnClose(true)
	return l, nil
}

// Serve accepts clients on l and serves them until ctx is cancelled, then
// closes l and every client and returns nil. It returns the error of accept
// if l fails otherwise. Clients cost no goroutine (see loop.go).
func (px *Proxy) Serve(ctx context.Context, l *net.UnixListener) error {
	defer l.Close()
	fd, err := dupFD(l)
	if err != nil {
		return err
	}
	a := &acceptor{px: px, fd: fd, ctx: ctx, end: make(chan error, 1)}
	px.lp.post(func() {
		key, err := px.lp.add(fd, unix.EPOLLIN, a.handle)
		if err != nil {
			a.close(err)
			return
		}
		a.key = key
	})
	stop := context.AfterFunc(ctx, func() { px.lp.post(func() { a.close(nil) }) })
	err = <-a.end
	stop()
	a.wg.Wait()
	return err
}

// acceptor accepts the clients of one Serve; it is the loop's.
type acceptor struct {
	px     *Proxy
	fd     int
	key    uint64
	ctx    context.Context
	wg     sync.WaitGroup // clients not ended
	end    chan error     // what Serve returns
	closed bool
}

// acceptPause is how long accepting stops when the process is out of fds.
const acceptPause = 100 * time.Millisecond

func (a *acceptor) handle(uint32) {
	for !a.closed {
		fd, _, err := unix.Accept4(a.fd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		switch err {
		case nil:
		case unix.EAGAIN:
			return
		case unix.EINTR, unix.ECONNABORTED:
			continue
		case unix.EMFILE, unix.ENFILE, unix.ENOBUFS, unix.ENOMEM:
			// The listener stays readable: stop watching it for a while
			// rather than spin.
			a.px.log.Warn("cannot accept client", "err", os.NewSyscallError("accept4", err))
			a.px.lp.modify(a.fd, a.key, 0)
			time.AfterFunc(acceptPause, func() {
				a.px.lp.post(func() {
					if !a.closed {
						a.px.lp.modify(a.fd, a.key, unix.EPOLLIN)
					}
				})
			})
			return
		default:
			a.close(os.NewSyscallError("accept4", err))
			return
		}
		a.wg.Add(1)
		go a.px.start(a.ctx, fd, func(err error) {
			if err != nil {
				a.px.log.Warn("client closed", "err", err)
			}
			a.wg.Done()
		})
	}
}

func (a *acceptor) close(err error) {
	if a.closed {
		return
	}
	a.closed = true
	if a.key != 0 {
		a.px.lp.remove(a.fd, a.key)
	}
	unix.Close(a.fd)
	a.end <- err
}

// ServeConn proxies one client connection, already accepted (or one end of
// a socketpair), to a new connection to the bus. It returns when either
// side closes or ctx is cancelled; it always closes c. The error says why
// the client was dropped; nil means a side hung up.
func (px *Proxy) ServeConn(ctx context.Context, c *net.UnixConn) error {
	fd, err := dupFD(c)
	c.Close()
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	px.start(ctx, fd, func(err error) { done <- err })
	return <-done
}

// start connects the client on fd to the bus and hands both to the loop;
// done gets the outcome once the client has ended.
func (px *Proxy) start(ctx context.Context, fd int, done func(error)) {
	var bfd int
	var err error
	if px.dial == nil {
		bfd, err = dialBusFD(ctx, px.addr)
	} else {
		var bus *net.UnixConn
		if bus, err = px.dial(ctx); err == nil {
			bfd, err = dupFD(bus)
			bus.Close()
		}
	}
	if err != nil {
		unix.Close(fd)
		done(err)
		return
	}
	cl := newClient(px, fd, bfd)
	cl.done = done
	px.lp.post(func() {
		if err := cl.register(); err != nil {
			cl.fail(nil, err)
			return
		}
		cl.stop = context.AfterFunc(ctx, func() { px.lp.post(func() { cl.fail(nil, nil) }) })
	})
}

// dupFD returns a non-blocking duplicate of c's socket, for the loop.
func dupFD(c syscall.Conn) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return -1, err
	}
	nfd := -1
	cerr := rc.Control(func(fd uintptr) {
		nfd, err = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
	})
	if cerr != nil {
		return -1, cerr
	}
	if err != nil {
		return -1, os.NewSyscallError("fcntl", err)
	}
	if err := unix.SetNonblock(nfd, true); err != nil {
		unix.Close(nfd)
		return -1, os.NewSyscallError("fcntl", err)
	}
	return nfd, nil
}

// guard runs loop and turns a panic into an error, so that a bug hit by
// one client closes that client and not the whole proxy.
func guard(loop func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v\n%s", ErrInternal, r, debug.Stack())
		}
	}()
	return loop()
}

// tracef writes one trace line.
func (px *Proxy) tracef(format string, args ...any) {
	if px.trace == nil {
		return
	}
	px.traceMu.Lock()
	fmt.Fprintf(px.trace, format+"\n", args...)
	px.traceMu.Unlock()
}

// parseAddress returns the socket addresses of a D-Bus address, in order.
func parseAddress(addr string) ([]*net.UnixAddr, error) {
	var out []*net.UnixAddr
	for _, entry := range strings.Split(addr, ";") {
		if entry == "" {
			continue
		}
		transport, params, ok := strings.Cut(entry, ":")
		if !ok || transport != "unix" {
			continue
		}
		for _, kv := range strings.Split(params, ",") {
			k, v, _ := strings.Cut(kv, "=")
			v, err := unescapeAddress(v)
			if err != nil {
				return nil, fmt.Errorf("%w: %s", ErrBadAddress, addr)
			}
			switch k {
			case "path":
				out = append(out, &net.UnixAddr{Name: v, Net: "unix"})
			case "abstract":
				out = append(out, &net.UnixAddr{Name: "@" + v, Net: "unix"})
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %q (only unix:path= and unix:abstract= are supported)", ErrBadAddress, addr)
	}
	return out, nil
}

func unescapeAddress(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", ErrBadAddress
		}
		var v byte
		for _, c := range []byte(s[i+1 : i+3]) {
			v <<= 4
			switch {
			case c >= '0' && c <= '9':
				v |= c - '0'
			case c >= 'a' && c <= 'f':
				v |= c - 'a' + 10
			case c >= 'A' && c <= 'F':
				v |= c - 'A' + 10
			default:
				return "", ErrBadAddress
			}
		}
		b.WriteByte(v)
		i += 2
	}
	return b.String(), nil
}

// dialBusFD connects to the first reachable address of addr and returns
// the socket, non-blocking, for the loop.
func dialBusFD(ctx context.Context, addr string) (int, error) {
	addrs, err := parseAddress(addr)
	if err != nil {
		return -1, err
	}
	var last error
	for _, a := range addrs {
		if err := ctx.Err(); err != nil {
			return -1, err
		}
		fd, err := dialUnix(a.Name)
		if err == nil {
			return fd, nil
		}
		last = err
	}
	return -1, fmt.Errorf("connecting to bus %s: %w", addr, last)
}

// dialUnix connects a stream socket to name ("@…" for an abstract one)
// and makes it non-blocking. A unix socket connects at once, or fails at
// once when nobody listens (or waits while the listener's backlog is full).
func dialUnix(name string) (int, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	for {
		err = unix.Connect(fd, &unix.SockaddrUnix{Name: name})
		if err != unix.EINTR {
			break
		}
	}
	if err == nil {
		err = unix.SetNonblock(fd, true)
	}
	if err != nil {
		unix.Close(fd)
		return -1, &net.OpError{Op: "dial", Net: "unix", Addr: &net.UnixAddr{Name: name, Net: "unix"}, Err: os.NewSyscallError("connect", err)}
	}
	return fd, nil
}
