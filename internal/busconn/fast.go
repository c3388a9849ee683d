package busconn

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"
	"unsafe"

	"github.com/godbus/dbus/v5"
	"golang.org/x/sys/unix"
)

// FastCall is an incoming method call offered to a FastHandler before
// godbus decodes it. Body and the strings are valid during the call only
// when noted; Sender, Path, Interface and Member are copies.
type FastCall struct {
	Sender, Path, Interface, Member string
	Signature                       string
	Body                            []byte // valid only during the call
	Order                           binary.ByteOrder
}

// FastReply is a FastHandler's answer: a body in little-endian order with
// its signature (EncodeBody makes one).
type FastReply struct {
	Signature string
	Body      []byte
}

// FastHandler answers hot method calls on godbus's reader goroutine,
// without godbus decoding the call, a goroutine per call or reflection.
// It reports false to leave the call to godbus. It runs before later
// messages are read, so it must not block: no bus calls, no waiting for
// anything that may wait for the bus.
type FastHandler func(c *FastCall) (FastReply, bool)

// fastSerialStart numbers the replies sent by the fast path. godbus
// counts its own serials up from 1; these count down from the top, so the
// two never meet in a connection's life.
const fastSerialStart uint32 = 0xFFFFFFFF

// Strings returns the arguments of a call whose signature holds only s
// (and o) values.
func (c *FastCall) Strings() ([]string, bool) {
	w := walker{b: c.Body, order: c.Order}
	out := make([]string, 0, len(c.Signature))
	for i := 0; i < len(c.Signature); i++ {
		if c.Signature[i] != 's' && c.Signature[i] != 'o' {
			return nil, false
		}
		if err := w.value(c.Signature[i:i+1], 0); err != nil {
			return nil, false
		}
		out = append(out, string(w.last))
	}
	return out, w.pos == len(c.Body)
}

// EncodeBody encodes values as the little-endian body of a reply.
func EncodeBody(values ...any) (FastReply, error) {
	msg := &dbus.Message{
		Type: dbus.TypeMethodReply,
		Headers: map[dbus.HeaderField]dbus.Variant{
			dbus.FieldReplySerial: dbus.MakeVariant(uint32(1)),
		},
		Body: values,
	}
	var sig string
	if len(values) > 0 {
		s := dbus.SignatureOf(values...)
		sig = s.String()
		msg.Headers[dbus.FieldSignature] = dbus.MakeVariant(s)
	}
	var buf bytes.Buffer
	if err := msg.EncodeTo(&buf, binary.LittleEndian); err != nil {
		return FastReply{}, fmt.Errorf("encoding a reply: %w", err)
	}
	h, err := parseHeader(buf.Bytes())
	if err != nil {
		return FastReply{}, err
	}
	return FastReply{Signature: sig, Body: buf.Bytes()[h.bodyStart:]}, nil
}

// fastCall offers the call msg to the fast handler and sends its reply.
// It reports whether the call was answered.
func (t *transport) fastCall(msg []byte, h *header) bool {
	if h.typ != typeMethodCall || h.unixFDs > 0 || len(h.member) == 0 || len(h.path) == 0 {
		return false
	}
	c := FastCall{
		Sender:    string(h.sender),
		Path:      string(h.path),
		Interface: string(h.iface),
		Member:    string(h.member),
		Signature: string(h.sig),
		Body:      msg[h.bodyStart:],
		Order:     h.order,
	}
	r, ok := t.fast(&c)
	if !ok {
		return false
	}
	if h.flags&flagNoReplyExpected != 0 {
		return true
	}
	out := appendReply(nil, t.nextFastSerial(), h.serial, h.sender, r)
	if !t.writeFast(out) {
		return false
	}
	if len(t.raw) == t.off {
		t.awaitNext()
	}
	return true
}

func (t *transport) writeFast(out []byte) bool {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	if len(t.wbuf) > 0 {
		// godbus is halfway through writing a message (never seen: it
		// writes whole ones); let it answer this call too.
		return false
	}
	return t.write(out) == nil // (else godbus will meet the error itself)
}

// fastLinger is how long the reader waits in the kernel for the next
// message after a fast reply before it parks in Go's network poller.
const fastLinger = 500 * time.Microsecond

// awaitNext waits up to fastLinger, blocked in ppoll(2), for the socket
// to become readable. Hot calls come back to back (a client in a loop,
// a toolkit reading many settings): parking in the poller and being
// woken by it costs a scheduler round (another thread woken, the
// runtime's monitor woken) per call, about half the frontend's CPU per
// fast call and some of its latency. The wait blocks only this reader,
// which has nothing else to do; Close waits for it at most fastLinger.
// It is a raw system call (see raw.go): the runtime counts the reader as
// running meanwhile, and a signal (preemption) only ends the wait early.
func (t *transport) awaitNext() {
	_ = t.rc.Control(func(fd uintptr) {
		fds := [1]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		ts := unix.NsecToTimespec(int64(fastLinger))
		unix.RawSyscall6(unix.SYS_PPOLL, uintptr(unsafe.Pointer(&fds[0])), 1, uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
	})
}

func (t *transport) nextFastSerial() uint32 {
	return fastSerialStart - t.fastSerials.Add(1)
}

// appendReply appends a little-endian method return to dest for the call
// serial of sender.
func appendReply(b []byte, serial, replySerial uint32, dest []byte, r FastReply) []byte {
	le := binary.LittleEndian
	msgStart := len(b)
	b = append(b, 'l', typeMethodReturn, 0, 1)
	b = le.AppendUint32(b, uint32(len(r.Body)))
	b = le.AppendUint32(b, serial)
	b = le.AppendUint32(b, 0) // header fields length, set below
	start := len(b)
	pad := func() {
		for (len(b)-msgStart)%8 != 0 {
			b = append(b, 0)
		}
	}
	b = append(b, fieldReplySerial, 1, 'u', 0)
	b = le.AppendUint32(b, replySerial)
	if len(dest) > 0 {
		pad()
		b = append(b, fieldDestination, 1, 's', 0)
		b = le.AppendUint32(b, uint32(len(dest)))
		b = append(b, dest...)
		b = append(b, 0)
	}
	if r.Signature != "" {
		pad()
		b = append(b, fieldSignature, 1, 'g', 0, byte(len(r.Signature)))
		b = append(b, r.Signature...)
		b = append(b, 0)
	}
	le.PutUint32(b[start-4:], uint32(len(b)-start))
	pad()
	return append(b, r.Body...)
}
