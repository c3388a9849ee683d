package permissionstore

import (
	"bytes"
	"encoding/binary"
	"net"
	"strconv"
	"strings"
	"sync"

	"github.com/godbus/dbus/v5"

	"github.com/porthole-dev/porthole/internal/gvariant"
)

var variantT = gvariant.MustType("v")

// recorder watches the bytes a connection receives and keeps the raw
// bodies of Set and SetValue calls, so their data argument can be decoded
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

// teeConn passes a connection through, feeding what it reads to rec.
type teeConn struct {
	net.Conn
	rec *recorder
}

func (c teeConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.rec.feed(p[:n])
	}
	return n, err
}

// dialRecording connects to a unix: bus address with a recorder on the
// incoming stream. It reports false for addresses it does not handle
// (the caller then connects with godbus alone).
func dialRecording(address string, rec *recorder, opts ...dbus.ConnOption) (*dbus.Conn, bool, error) {
	for _, a := range strings.Split(address, ";") {
		rest, ok := strings.CutPrefix(a, "unix:")
		if !ok {
			continue
		}
		var sock string
		for _, kv := range strings.Split(rest, ",") {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "path":
				sock = unescapeAddr(v)
			case "abstract":
				sock = "@" + unescapeAddr(v)
			}
		}
		if sock == "" {
			continue
		}
		nc, err := net.Dial("unix", sock)
		if err != nil {
			continue
		}
		conn, err := dbus.NewConn(teeConn{nc, rec}, opts...)
		if err != nil {
			nc.Close()
			return nil, true, err
		}
		if err := conn.Auth(nil); err != nil {
			conn.Close()
			return nil, true, err
		}
		if err := conn.Hello(); err != nil {
			conn.Close()
			return nil, true, err
		}
		return conn, true, nil
	}
	return nil, false, nil
}

// unescapeAddr undoes the %XX escaping of D-Bus address values.
func unescapeAddr(s string) string {
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
