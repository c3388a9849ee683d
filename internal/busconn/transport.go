package busconn

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// ErrUnknownFD reports an outgoing h value that is neither a descriptor
// received and not yet taken nor one lent with LendFD.
var ErrUnknownFD = errors.New("unknown descriptor token")

// transport is the io.ReadWriteCloser godbus runs on (see doc.go). Read is
// called by godbus's reader goroutine only; Write by godbus's senders,
// one whole message per call, serialized by godbus (and by wmu).
type transport struct {
	c       *net.UnixConn
	rc      syscall.RawConn // c's, for reads and writes without the scheduler (raw.go)
	observe func(msg []byte)
	fdsOK   bool        // the bus agreed to pass descriptors
	fast    FastHandler // may be nil

	fastSerials atomic.Uint32 // replies sent by the fast path

	// godbus's authentication, answered here (the real one is done).
	authMu  sync.Mutex
	authing atomic.Bool
	authIn  []byte
	authOut []byte
	guid    string

	// Reader side.
	raw  []byte // received bytes; raw[off:] not yet handed on
	off  int
	rfds []int // received descriptors not yet given to a message
	cur  []byte
	oob  []byte
	offs []int
	// recvmsg's state while the runtime runs recvFn (raw.go).
	recvFn    func(fd uintptr) bool
	rbuf      []byte
	rn, roobn int
	rerr      error

	// Writer side.
	wmu  sync.Mutex
	wbuf []byte

	mu     sync.Mutex
	tab    table
	closed bool
}

const readChunk = 64 << 10

func newTransport(c *net.UnixConn) *transport {
	t := &transport{c: c, oob: make([]byte, unix.CmsgSpace(253*4))}
	t.rc, _ = c.SyscallConn() // (cannot fail for a *net.UnixConn)
	t.recvFn = t.recv
	return t
}

// fill reads more bytes (and any descriptors) from the socket.
func (t *transport) fill(need int) error {
	if t.off > 0 && (t.off == len(t.raw) || t.off > cap(t.raw)/2) {
		n := copy(t.raw, t.raw[t.off:])
		t.raw = t.raw[:n]
		t.off = 0
	}
	want := max(readChunk, need-len(t.raw)+t.off)
	if cap(t.raw)-len(t.raw) < want {
		nb := make([]byte, len(t.raw), len(t.raw)+want)
		copy(nb, t.raw)
		t.raw = nb
	}
	buf := t.raw[len(t.raw):cap(t.raw)]
	n, oobn, err := t.recvmsg(buf)
	if oobn > 0 {
		t.takeRights(t.oob[:oobn])
	}
	if n > 0 {
		t.raw = t.raw[:len(t.raw)+n]
	}
	if n == 0 && err == nil {
		err = io.EOF
	}
	return err
}

// takeRights collects the descriptors of a control message (Go's
// ReadMsgUnix asks for MSG_CMSG_CLOEXEC).
func (t *transport) takeRights(oob []byte) {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return
	}
	for i := range msgs {
		fds, err := syscall.ParseUnixRights(&msgs[i])
		if err == nil {
			t.rfds = append(t.rfds, fds...)
		}
	}
}

// readLine reads one authentication line (without CRLF).
func (t *transport) readLine() (string, error) {
	for {
		if i := bytes.Index(t.raw[t.off:], []byte("\r\n")); i >= 0 {
			line := string(t.raw[t.off : t.off+i])
			t.off += i + 2
			return line, nil
		}
		if len(t.raw)-t.off > 16<<10 {
			return "", errors.New("authentication line too long")
		}
		if err := t.fill(0); err != nil {
			return "", err
		}
	}
}

// Read hands godbus the bytes of the next message, rewritten.
func (t *transport) Read(p []byte) (int, error) {
	if t.authing.Load() {
		t.authMu.Lock()
		n := copy(p, t.authOut)
		t.authOut = t.authOut[n:]
		t.authMu.Unlock()
		if n == 0 {
			return 0, errors.New("unexpected read during authentication")
		}
		return n, nil
	}
	for len(t.cur) == 0 {
		if err := t.next(); err != nil {
			return 0, err
		}
	}
	n := copy(p, t.cur)
	t.cur = t.cur[n:]
	return n, nil
}

// next frames the next message from the socket into t.cur.
func (t *transport) next() error {
	for len(t.raw)-t.off < 16 {
		if err := t.fill(16); err != nil {
			return err
		}
	}
	total, err := messageLength(t.raw[t.off:])
	if err != nil {
		return err // the stream cannot be framed any more
	}
	for len(t.raw)-t.off < total {
		if err := t.fill(total); err != nil {
			return err
		}
	}
	msg := t.raw[t.off : t.off+total]
	t.off += total
	if h, ok := t.received(msg); ok {
		if t.fast != nil && t.fastCall(msg, h) {
			return nil
		}
		if t.observe != nil {
			t.observe(msg)
		}
		t.cur = msg
	}
	return nil
}

// received prepares one incoming message for godbus: it gives the message
// its descriptors, writes a token (or InvalidFD) over every h value, and
// closes descriptors nothing references. It reports false for a message
// to drop, and gives the parsed header.
func (t *transport) received(msg []byte) (*header, bool) {
	h, err := parseHeader(msg)
	var fds []int
	if err == nil && h.unixFDs > 0 {
		n := min(int(h.unixFDs), len(t.rfds))
		fds = t.rfds[:n:n]
		t.rfds = t.rfds[n:]
		if len(t.rfds) == 0 {
			t.rfds = nil
		}
	}
	if err != nil {
		closeFDs(fds)
		return nil, false
	}
	offs := t.offs[:0]
	if needsWalk(h.sig) {
		offs, err = findFDs(msg, h, offs)
		t.offs = offs
		if err != nil {
			closeFDs(fds)
			return nil, false
		}
	}
	if len(fds) == 0 && len(offs) == 0 {
		return h, true
	}
	if h.typ == typeSignal || (h.typ != typeMethodCall && h.typ != typeMethodReturn && h.typ != typeError) {
		closeFDs(fds) // nothing here takes descriptors from signals
		fds = nil
	}
	tokens := make([]uint32, len(fds))
	used := make([]bool, len(fds))
	t.mu.Lock()
	var l *lease
	if h.typ == typeMethodCall && len(offs) > 0 && len(fds) > 0 {
		k := callKey{string(h.sender), h.serial}
		if t.tab.calls == nil {
			t.tab.calls = map[callKey]*lease{}
		}
		if l = t.tab.calls[k]; l == nil {
			l = &lease{}
			t.tab.calls[k] = l
		}
		if h.flags&flagNoReplyExpected != 0 {
			// Keep the descriptors until godbus has answered; the
			// answer is dropped in Write.
			msg[2] &^= flagNoReplyExpected
			l.swallow = true
		}
	}
	for _, off := range offs {
		idx := h.order.Uint32(msg[off:])
		tok := InvalidFD
		if int64(idx) < int64(len(fds)) {
			if !used[idx] {
				used[idx] = true
				if l != nil {
					tokens[idx] = t.tab.add(entry{fd: fds[idx], lease: l})
					l.tokens = append(l.tokens, tokens[idx])
				} else {
					tokens[idx] = t.tab.addReply(fds[idx])
				}
			}
			tok = tokens[idx]
		}
		h.order.PutUint32(msg[off:], tok)
	}
	t.mu.Unlock()
	for i, fd := range fds {
		if !used[i] {
			unix.Close(fd)
		}
	}
	return h, true
}

func closeFDs(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// Write sends what godbus wrote: authentication lines (answered here) or
// one message.
func (t *transport) Write(p []byte) (int, error) {
	if t.authing.Load() {
		t.authMu.Lock()
		defer t.authMu.Unlock()
		t.authWrite(p)
		return len(p), nil
	}
	t.wmu.Lock()
	defer t.wmu.Unlock()
	data := p
	if len(t.wbuf) > 0 {
		t.wbuf = append(t.wbuf, p...)
		data = t.wbuf
	}
	for len(data) >= 16 {
		total, err := messageLength(data)
		if err != nil {
			t.wbuf = nil
			return 0, err
		}
		if len(data) < total {
			break
		}
		if err := t.send(data[:total]); err != nil {
			t.wbuf = nil
			return 0, err
		}
		data = data[total:]
	}
	t.wbuf = append(t.wbuf[:0], data...)
	return len(p), nil
}

// authWrite answers godbus's side of the authentication: the bus was
// authenticated already, so godbus is told OK and its BEGIN ends the act.
func (t *transport) authWrite(p []byte) {
	t.authIn = append(t.authIn, p...)
	t.authIn = bytes.TrimLeft(t.authIn, "\x00")
	for {
		i := bytes.Index(t.authIn, []byte("\r\n"))
		if i < 0 {
			return
		}
		line := string(t.authIn[:i])
		t.authIn = t.authIn[i+2:]
		switch {
		case line == "BEGIN":
			t.authing.Store(false)
			return
		case line == "AUTH":
			t.authOut = append(t.authOut, "REJECTED EXTERNAL\r\n"...)
		case strings.HasPrefix(line, "AUTH "):
			t.authOut = append(t.authOut, "OK "+t.guid+"\r\n"...)
		case line == "NEGOTIATE_UNIX_FD":
			t.authOut = append(t.authOut, "ERROR\r\n"...)
		default:
			t.authOut = append(t.authOut, "REJECTED EXTERNAL\r\n"...)
		}
	}
}

// send writes one message godbus encoded, with the descriptors its h
// values name. A reply ends the lease of its call's descriptors.
func (t *transport) send(msg []byte) error {
	h, err := parseHeader(msg)
	if err != nil {
		return err
	}
	var l *lease
	if h.typ == typeMethodReturn || h.typ == typeError {
		t.mu.Lock()
		if len(t.tab.calls) > 0 {
			k := callKey{string(h.dest), h.replySerial}
			if l = t.tab.calls[k]; l != nil {
				delete(t.tab.calls, k)
			}
		}
		t.mu.Unlock()
		if l != nil {
			defer func() {
				t.mu.Lock()
				t.tab.release(l)
				t.mu.Unlock()
			}()
		}
	}
	var offs []int
	if needsWalk(h.sig) {
		if offs, err = findFDs(msg, h, nil); err != nil {
			return err
		}
	}
	if l != nil && l.swallow {
		return nil
	}
	if len(offs) == 0 {
		return t.write(msg)
	}
	if !t.fdsOK {
		return errors.New("cannot send descriptors: the bus did not agree to pass them")
	}
	out, fds, err := t.attach(msg, h, offs)
	if err != nil {
		return err
	}
	defer closeFDs(fds)
	n, _, err := t.c.WriteMsgUnix(out, unix.UnixRights(fds...), nil)
	if err == nil && n < len(out) {
		_, err = t.c.Write(out[n:])
	}
	return err
}

// attach returns a copy of msg whose h values are indices into fds (dups
// of the descriptors the tokens name, which the caller closes) and whose
// header says how many there are.
func (t *transport) attach(msg []byte, h *header, offs []int) ([]byte, []int, error) {
	if h.hasUnixFDs {
		return nil, nil, fmt.Errorf("%w: message already counts descriptors", ErrMalformed)
	}
	// The new header field (code 9, signature "u", a uint32) takes 8
	// bytes at an 8-aligned offset, so the body stays 8-aligned and the
	// values in it keep their alignment.
	fieldAt := (h.fieldsEnd + 7) &^ 7
	delta := fieldAt + 8 - h.bodyStart
	out := make([]byte, 0, len(msg)+delta)
	out = append(out, msg[:h.fieldsEnd]...)
	out = append(out, make([]byte, fieldAt-h.fieldsEnd)...)
	out = append(out, fieldUnixFDs, 1, 'u', 0, 0, 0, 0, 0)
	out = append(out, msg[h.bodyStart:]...)
	h.order.PutUint32(out[12:16], uint32(fieldAt+8-16))

	var fds []int
	index := map[uint32]uint32{}
	var consumed []uint32
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, off := range offs {
		tok := h.order.Uint32(msg[off:])
		idx, ok := index[tok]
		if !ok {
			e, known := t.tab.fds[tok]
			if !known {
				closeFDs(fds)
				return nil, nil, fmt.Errorf("%w: %d", ErrUnknownFD, tok)
			}
			dup, err := unix.FcntlInt(uintptr(e.fd), unix.F_DUPFD_CLOEXEC, 0)
			if err != nil {
				closeFDs(fds)
				return nil, nil, fmt.Errorf("cannot pass descriptor: %w", err)
			}
			if e.lent {
				consumed = append(consumed, tok)
			}
			idx = uint32(len(fds))
			fds = append(fds, dup)
			index[tok] = idx
		}
		h.order.PutUint32(out[off+delta:], idx)
	}
	if len(fds) > 253 {
		closeFDs(fds)
		return nil, nil, fmt.Errorf("cannot pass %d descriptors in one message", len(fds))
	}
	h.order.PutUint32(out[fieldAt+4:], uint32(len(fds)))
	for _, tok := range consumed {
		delete(t.tab.fds, tok)
	}
	return out, fds, nil
}

// Close closes the socket and every descriptor still held.
func (t *transport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	t.tab.closeAll()
	t.mu.Unlock()
	return t.c.Close()
}
