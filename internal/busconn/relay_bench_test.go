package busconn_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/godbus/dbus/v5"
	"github.com/porthole-dev/porthole/internal/busconn"
)

// Why a relay: godbus v5.2.4 panics (and so kills the process) when a
// message carries an array of file descriptors ("ah", as AddFull and
// AddFiles take) together with the descriptors. The relay sits between
// godbus and the bus socket: it receives the descriptors itself and hands
// godbus each top-level h or ah argument as the fd number in this process
// (a dbus.UnixFDIndex holding the fd), with no descriptors attached, which
// godbus decodes without trouble. Descriptors a message carries but does
// not reference at top level are closed. Outgoing traffic is copied as is
// (we never send descriptors).

// relayDial connects to address (the session bus when empty) through the
// relay, authenticates and says Hello.
// relayDial is the socketpair relay documentportal used before busconn,
// kept here only to compare round trips (BenchmarkRoundTrip/relay).
func relayDial(address string, claims *fdClaims) (*dbus.Conn, error) {
	if address == "" {
		address = os.Getenv("DBUS_SESSION_BUS_ADDRESS")
	}
	if address == "" {
		if rt := os.Getenv("XDG_RUNTIME_DIR"); rt != "" {
			address = "unix:path=" + filepath.Join(rt, "bus")
		}
	}
	bus, err := busconn.DialUnix(context.Background(), address)
	if err != nil {
		return nil, err
	}
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		bus.Close()
		return nil, fmt.Errorf("connecting to the bus: %w", err)
	}
	// net.FileConn dups; close the originals through their *os.File so
	// no finalizer closes the same numbers again later, when they may
	// already belong to a document's open file.
	f0, f1 := os.NewFile(uintptr(fds[0]), "relay"), os.NewFile(uintptr(fds[1]), "godbus")
	ours, err1 := net.FileConn(f0)
	theirs, err2 := net.FileConn(f1)
	f0.Close()
	f1.Close()
	if err1 != nil || err2 != nil {
		bus.Close()
		return nil, fmt.Errorf("connecting to the bus: %v %v", err1, err2)
	}
	r := &relay{bus: bus, local: ours.(*net.UnixConn), agreed: make(chan struct{}), claims: claims}
	go r.toBus()
	go r.fromBus()
	conn, err := dbus.NewConn(theirs)
	if err != nil {
		theirs.Close()
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
	return conn, nil
}

type relay struct {
	bus, local *net.UnixConn
	asked      bool
	mu         sync.Mutex
	agreed     chan struct{}
	claims     *fdClaims
}

func (r *relay) closeAll() {
	r.bus.Close()
	r.local.Close()
}

// toBus copies godbus's traffic to the bus, asking the bus for descriptor
// passing just before godbus ends the authentication.
func (r *relay) toBus() {
	defer r.closeAll()
	buf := make([]byte, 64<<10)
	var pending []byte
	for {
		n, err := r.local.Read(buf)
		if n > 0 {
			pending = append(pending, buf[:n]...)
			if i := bytes.Index(pending, []byte("BEGIN\r\n")); i >= 0 && (i == 0 || pending[i-1] == '\n') {
				if _, err := r.bus.Write(pending[:i]); err != nil {
					return
				}
				r.mu.Lock()
				r.asked = true
				r.mu.Unlock()
				if _, err := r.bus.Write([]byte("NEGOTIATE_UNIX_FD\r\n")); err != nil {
					return
				}
				<-r.agreed
				if _, err := r.bus.Write(pending[i:]); err != nil {
					return
				}
				break
			}
			if j := bytes.LastIndexByte(pending, '\n'); j >= 0 {
				if _, err := r.bus.Write(pending[:j+1]); err != nil {
					return
				}
				pending = pending[j+1:]
			}
		}
		if err != nil {
			return
		}
	}
	io.Copy(r.bus, r.local)
}

// busReader buffers bytes and received descriptors from the bus.
type busReader struct {
	c   *net.UnixConn
	buf []byte
	fds []int
	tmp []byte
	oob []byte
}

func (b *busReader) fill() error {
	n, oobn, _, _, err := b.c.ReadMsgUnix(b.tmp, b.oob)
	if n < 0 {
		n = 0
	}
	if oobn > 0 && oobn <= len(b.oob) {
		if msgs, perr := syscall.ParseSocketControlMessage(b.oob[:oobn]); perr == nil {
			for _, m := range msgs {
				if fds, err := syscall.ParseUnixRights(&m); err == nil {
					for _, fd := range fds {
						syscall.CloseOnExec(fd)
					}
					b.fds = append(b.fds, fds...)
				}
			}
		}
	}
	b.buf = append(b.buf, b.tmp[:n]...)
	if n == 0 && err == nil {
		return io.EOF
	}
	return err
}

func (b *busReader) need(n int) error {
	for len(b.buf) < n {
		if err := b.fill(); err != nil {
			return err
		}
	}
	return nil
}

// fromBus passes the bus's traffic to godbus, rewriting messages that
// carry descriptors.
func (r *relay) fromBus() {
	defer r.closeAll()
	b := &busReader{c: r.bus, tmp: make([]byte, 64<<10), oob: make([]byte, syscall.CmsgSpace(253*4))}
	// Authentication: lines; the answer to our NEGOTIATE_UNIX_FD is ours.
	for {
		i := bytes.IndexByte(b.buf, '\n')
		if i < 0 {
			if err := b.fill(); err != nil {
				return
			}
			continue
		}
		line := b.buf[:i+1]
		r.mu.Lock()
		asked := r.asked
		r.mu.Unlock()
		if asked {
			b.buf = b.buf[i+1:]
			close(r.agreed)
			break
		}
		if _, err := r.local.Write(line); err != nil {
			return
		}
		b.buf = b.buf[i+1:]
	}
	for {
		if err := b.need(16); err != nil {
			return
		}
		var order binary.ByteOrder = binary.LittleEndian
		if b.buf[0] == 'B' {
			order = binary.BigEndian
		}
		bodyLen := int(order.Uint32(b.buf[4:8]))
		fieldsLen := int(order.Uint32(b.buf[12:16]))
		total := (16+fieldsLen+7)&^7 + bodyLen
		if bodyLen > 1<<27 || fieldsLen > 1<<26 {
			return
		}
		if err := b.need(total); err != nil {
			return
		}
		raw := b.buf[:total]
		if len(b.fds) == 0 {
			if _, err := r.local.Write(raw); err != nil {
				return
			}
		} else if err := r.rewrite(raw, b); err != nil {
			return
		}
		b.buf = append(b.buf[:0], b.buf[total:]...)
	}
}

var errRelay = errors.New("cannot relay message")

// rewrite hands a message with descriptors to godbus (see connectBus).
func (r *relay) rewrite(raw []byte, b *busReader) error {
	msg, err := dbus.DecodeMessage(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("%w: %v", errRelay, err)
	}
	var n int
	if v, ok := msg.Headers[dbus.FieldUnixFDs]; ok {
		if u, ok := v.Value().(uint32); ok {
			n = int(u)
		}
	}
	if n > len(b.fds) {
		n = len(b.fds)
	}
	fds := b.fds[:n]
	b.fds = append([]int(nil), b.fds[n:]...)
	used := make([]bool, n)
	conv := func(i dbus.UnixFDIndex) dbus.UnixFDIndex {
		if int(i) < n {
			if !used[i] {
				r.claims.add(fds[i])
			}
			used[i] = true
			return dbus.UnixFDIndex(fds[i])
		}
		return dbus.UnixFDIndex(^uint32(0))
	}
	for i, v := range msg.Body {
		switch x := v.(type) {
		case dbus.UnixFDIndex:
			msg.Body[i] = conv(x)
		case []dbus.UnixFDIndex:
			out := make([]dbus.UnixFDIndex, len(x))
			for k, idx := range x {
				out[k] = conv(idx)
			}
			msg.Body[i] = out
		}
	}
	for i, fd := range fds {
		if !used[i] {
			syscall.Close(fd)
		}
	}
	delete(msg.Headers, dbus.FieldUnixFDs)
	var out bytes.Buffer
	if err := msg.EncodeTo(&out, binary.LittleEndian); err != nil {
		return fmt.Errorf("%w: %v", errRelay, err)
	}
	_, err = r.local.Write(out.Bytes())
	return err
}

// fdClaims records the descriptors the relay handed to godbus, so a
// handler only ever uses a number that really came with its message (a
// caller could otherwise send an h value without descriptors and name one
// of ours).
type fdClaims struct {
	mu sync.Mutex
	m  map[int]bool
}

func (c *fdClaims) add(fd int) {
	c.mu.Lock()
	if c.m == nil {
		c.m = map[int]bool{}
	}
	c.m[fd] = true
	c.mu.Unlock()
}
