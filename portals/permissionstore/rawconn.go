package permissionstore

import (
	"bytes"
	"encoding/binary"
	"strings"
	"sync"

	"github.com/godbus/dbus/v5"

	"github.com/porthole-dev/porthole/internal/gvariant"
)

var variantT = gvariant.MustType("v")

// recorder watches the messages a connection receives (busconn's Observe
// hook; feed also takes a byte stream with the server's authentication
// lines) and keeps the raw bodies of Set and SetValue calls, so their data argument can be decoded
// with dictionary order intact (godbus decodes dictionaries into maps).
// It never alters the stream; on anything it does not understand it stops
// recording and the service falls back to godbus's decoded values.
type recorder struct {
	mu      sync.Mutex
	authed  bool
	broken  bool
	buf     []byte
	bodies  map[callKey]rawBody
	pending []callKey // insertion order, to bound the map
}

type rawBody struct {
	order binary.ByteOrder
	sig   string
	body  []byte
}

const maxRecorded = 256

func newRecorder() *recorder { return &recorder{bodies: make(map[callKey]rawBody)} }

// take returns and forgets the body recorded for a call.
func (r *recorder) take(sender string, serial uint32) (rawBody, bool) {
	if r == nil {
		return rawBody{}, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	k := callKey{sender, serial}
	b, ok := r.bodies[k]
	delete(r.bodies, k)
	return b, ok
}

// feed consumes received bytes; it runs in the connection's reader.
func (r *recorder) feed(p []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.broken {
		return
	}
	r.buf = append(r.buf, p...)
	if !r.authed {
		// The server's side of the authentication: text lines, the last
		// one "OK <guid>" (or AGREE_UNIX_FD after it).
		for {
			i := bytes.Index(r.buf, []byte("\r\n"))
			if i < 0 {
				return
			}
			line := string(r.buf[:i])
			r.buf = r.buf[i+2:]
			if strings.HasPrefix(line, "OK ") {
				r.authed = true
				break
			}
		}
	}
	for len(r.buf) >= 16 {
		var order binary.ByteOrder
		switch r.buf[0] {
		case 'l':
			order = binary.LittleEndian
		case 'B':
			order = binary.BigEndian
		default:
			if strings.HasPrefix(string(r.buf), "AGREE_UNIX_FD\r\n") {
				r.buf = r.buf[len("AGREE_UNIX_FD\r\n"):]
				continue
			}
			r.stop()
			return
		}
		bodyLen := int(order.Uint32(r.buf[4:]))
		fieldsLen := int(order.Uint32(r.buf[12:]))
		if bodyLen > 1<<27 || fieldsLen > 1<<26 {
			r.stop()
			return
		}
		start := 16 + (fieldsLen+7)&^7
		total := start + bodyLen
		if len(r.buf) < total {
			return
		}
		if r.buf[1] == byte(dbus.TypeMethodCall) {
			r.record(order, r.buf[:total], start, fieldsLen)
		}
		r.buf = r.buf[total:]
	}
	if len(r.buf) == 0 {
		r.buf = nil // let the backing array go
	}
}

func (r *recorder) stop() {
	r.broken = true
	r.buf = nil
}

// record keeps msg's body if it is a Set or SetValue call to the store.
func (r *recorder) record(order binary.ByteOrder, msg []byte, start, fieldsLen int) {
	d := &wireDecoder{data: msg[:16+fieldsLen], pos: 16, order: order}
	var path, iface, member, sender, sig string
	for d.pos < len(d.data) {
		if err := d.align(8); err != nil {
			return
		}
		code, err := d.take(1)
		if err != nil {
			return
		}
		v, err := d.value(variantT)
		if err != nil {
			return
		}
		inner := v.Unbox()
		switch c := inner.Type().String(); {
		case c == "s" || c == "o" || c == "g":
			s := inner.Str()
			switch code[0] {
			case 1:
				path = s
			case 2:
				iface = s
			case 3:
				member = s
			case 7:
				sender = s
			case 8:
				sig = s
			}
		}
	}
	if dbus.ObjectPath(path) != ObjectPath || iface != InterfaceName || (member != "Set" && member != "SetValue") ||
		sig != methodSignatures[member] {
		return
	}
	k := callKey{sender, order.Uint32(msg[8:])}
	if len(r.pending) >= maxRecorded {
		delete(r.bodies, r.pending[0])
		r.pending = r.pending[1:]
	}
	r.bodies[k] = rawBody{order, sig, bytes.Clone(msg[start:])}
	r.pending = append(r.pending, k)
}
