package busconn

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/godbus/dbus/v5"
	"golang.org/x/sys/unix"
)

// ErrNoAddress reports that no usable bus address was given or found.
var ErrNoAddress = errors.New("no usable bus address")

// Options configure Dial.
type Options struct {
	// ConnOptions are passed to godbus (handler, interceptors, context).
	ConnOptions []dbus.ConnOption
	// Observe, if set, sees every incoming message godbus will decode,
	// after rewriting, on godbus's reader goroutine. msg is valid only
	// during the call.
	Observe func(msg []byte)
	// Fast, if set, answers hot method calls before godbus sees them (see
	// FastHandler); the calls it answers are not observed.
	Fast FastHandler
}

// Conn is a godbus connection on a transport that owns the descriptors
// messages carry (see the package documentation).
type Conn struct {
	*dbus.Conn
	t *transport
}

// SessionAddress returns the session bus address: DBUS_SESSION_BUS_ADDRESS,
// else $XDG_RUNTIME_DIR/bus.
func SessionAddress(getenv func(string) string) string {
	if getenv == nil {
		getenv = os.Getenv
	}
	if a := getenv("DBUS_SESSION_BUS_ADDRESS"); a != "" {
		return a
	}
	if rt := getenv("XDG_RUNTIME_DIR"); rt != "" {
		return "unix:path=" + filepath.Join(rt, "bus")
	}
	return ""
}

// Dial connects to address (the session bus when empty), authenticates,
// says Hello and returns the connection. ctx bounds the set-up only.
func Dial(ctx context.Context, address string, opts Options) (*Conn, error) {
	if address == "" {
		address = SessionAddress(nil)
	}
	uc, err := dialUnix(ctx, address)
	if errors.Is(err, ErrNoAddress) && address != "" {
		// No unix socket in the address (tcp:, nonce-tcp:): nothing can
		// carry descriptors, so godbus's own transports are safe.
		conn, err := dbus.Connect(address, opts.ConnOptions...)
		if err != nil {
			return nil, fmt.Errorf("connecting to the bus: %w", err)
		}
		return &Conn{Conn: conn}, nil
	}
	if err != nil {
		return nil, err
	}
	t := newTransport(uc)
	t.observe = opts.Observe
	t.fast = opts.Fast
	if dl, ok := ctx.Deadline(); ok {
		uc.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { uc.SetDeadline(time.Unix(1, 0)) })
	err = t.authenticate()
	if !stop() || err != nil {
		uc.Close()
		if err == nil {
			err = ctx.Err()
		}
		return nil, fmt.Errorf("authenticating to the bus: %w", err)
	}
	uc.SetDeadline(time.Time{})
	t.authing.Store(true)
	conn, err := dbus.NewConn(t, opts.ConnOptions...)
	if err != nil {
		t.Close()
		return nil, fmt.Errorf("connecting to the bus: %w", err)
	}
	if err := conn.Auth(nil); err != nil {
		conn.Close()
		return nil, fmt.Errorf("authenticating to the bus: %w", err)
	}
	if err := conn.Hello(); err != nil {
		conn.Close()
		return nil, fmt.Errorf("saying hello to the bus: %w", err)
	}
	return &Conn{Conn: conn, t: t}, nil
}

// authenticate does the client's side of the authentication on the
// socket: EXTERNAL with our uid, then descriptor passing. The commands
// are sent at once; the bus answers them in order.
func (t *transport) authenticate() error {
	uid := hex.EncodeToString([]byte(strconv.Itoa(os.Geteuid())))
	if _, err := t.c.Write([]byte("\x00AUTH EXTERNAL " + uid + "\r\nNEGOTIATE_UNIX_FD\r\nBEGIN\r\n")); err != nil {
		return err
	}
	line, err := t.readLine()
	if err != nil {
		return err
	}
	guid, ok := strings.CutPrefix(line, "OK ")
	if !ok {
		return fmt.Errorf("bus refused EXTERNAL authentication: %q", line)
	}
	t.guid = guid
	if line, err = t.readLine(); err != nil {
		return err
	}
	t.fdsOK = line == "AGREE_UNIX_FD"
	return nil
}

// dialUnix connects to the first unix:path= or unix:abstract= entry of a
// D-Bus address.
func dialUnix(ctx context.Context, address string) (*net.UnixConn, error) {
	var lastErr error = fmt.Errorf("%w: %q", ErrNoAddress, address)
	var d net.Dialer
	for _, a := range strings.Split(address, ";") {
		rest, ok := strings.CutPrefix(a, "unix:")
		if !ok {
			continue
		}
		var path string
		for _, kv := range strings.Split(rest, ",") {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "path":
				path = unescape(v)
			case "abstract":
				path = "@" + unescape(v)
			}
		}
		if path == "" {
			continue
		}
		c, err := d.DialContext(ctx, "unix", path)
		if err == nil {
			return c.(*net.UnixConn), nil
		}
		lastErr = err
	}
	return nil, fmt.Errorf("connecting to the bus: %w", lastErr)
}

// unescape undoes the %XX escaping of address values.
func unescape(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if x, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(x))
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// TakeFD returns the descriptor an h value of a received message stands
// for; the caller owns it from then on. It reports false for InvalidFD,
// for a value already taken and for one whose call was answered already
// (descriptors of a call are closed when its reply is sent).
func (c *Conn) TakeFD(v dbus.UnixFDIndex) (int, bool) {
	if c.t == nil {
		return -1, false
	}
	c.t.mu.Lock()
	defer c.t.mu.Unlock()
	return c.t.tab.take(uint32(v))
}

// TakeFDs is TakeFD for each value; missing ones are -1.
func (c *Conn) TakeFDs(vs []dbus.UnixFDIndex) []int {
	out := make([]int, len(vs))
	for i, v := range vs {
		out[i], _ = c.TakeFD(v)
	}
	return out
}

// LendFD returns the value to put in an outgoing message (as an h, at any
// depth) so that it carries fd. The caller keeps fd and must keep it open
// until the send returns (godbus sends synchronously: Call, Emit and
// handler returns are done when they return). The value is good for one
// message.
func (c *Conn) LendFD(fd int) dbus.UnixFDIndex {
	if c.t == nil {
		return dbus.UnixFDIndex(InvalidFD)
	}
	c.t.mu.Lock()
	defer c.t.mu.Unlock()
	return dbus.UnixFDIndex(c.t.tab.add(entry{fd: fd, lent: true}))
}

// ReplyFD returns the value for a handler to return (or put in its reply)
// so that the reply to call carries fd. The connection owns fd from then
// on and closes it once the reply is sent.
func (c *Conn) ReplyFD(call *dbus.Message, fd int) dbus.UnixFDIndex {
	if c.t == nil {
		unix.Close(fd)
		return dbus.UnixFDIndex(InvalidFD)
	}
	sender, _ := call.Headers[dbus.FieldSender].Value().(string)
	k := callKey{sender, call.Serial()}
	c.t.mu.Lock()
	defer c.t.mu.Unlock()
	if c.t.tab.calls == nil {
		c.t.tab.calls = map[callKey]*lease{}
	}
	l := c.t.tab.calls[k]
	if l == nil {
		l = &lease{}
		c.t.tab.calls[k] = l
	}
	tok := c.t.tab.add(entry{fd: fd, lease: l})
	l.tokens = append(l.tokens, tok)
	return dbus.UnixFDIndex(tok)
}

// PassesFDs reports whether the bus agreed to pass descriptors.
func (c *Conn) PassesFDs() bool { return c.t != nil && c.t.fdsOK }
