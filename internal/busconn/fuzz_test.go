package busconn

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"

	"github.com/godbus/dbus/v5"
	"golang.org/x/sys/unix"
)

// encode returns msg as the bus would deliver it (serial 7, sender :1.9).
func encode(t testing.TB, order binary.ByteOrder, member string, unixFDs uint32, body ...any) []byte {
	m := &dbus.Message{Type: dbus.TypeMethodCall, Headers: map[dbus.HeaderField]dbus.Variant{
		dbus.FieldPath:      dbus.MakeVariant(dbus.ObjectPath("/o")),
		dbus.FieldMember:    dbus.MakeVariant(member),
		dbus.FieldSender:    dbus.MakeVariant(":1.9"),
		dbus.FieldInterface: dbus.MakeVariant("org.example.I"),
	}, Body: body}
	if len(body) > 0 {
		m.Headers[dbus.FieldSignature] = dbus.MakeVariant(dbus.SignatureOf(body...))
	}
	if unixFDs > 0 {
		m.Headers[dbus.FieldUnixFDs] = dbus.MakeVariant(unixFDs)
	}
	var b bytes.Buffer
	if err := m.EncodeTo(&b, order); err != nil {
		t.Fatal(err)
	}
	order.PutUint32(b.Bytes()[8:], 7)
	return b.Bytes()
}

func seeds(t testing.TB) [][]byte {
	ix := func(v ...uint32) []dbus.UnixFDIndex {
		out := make([]dbus.UnixFDIndex, len(v))
		for i, x := range v {
			out[i] = dbus.UnixFDIndex(x)
		}
		return out
	}
	var out [][]byte
	for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		out = append(out,
			encode(t, order, "ReadOne", 0, "org.freedesktop.appearance", "color-scheme"),
			encode(t, order, "AddFull", 2, ix(0, 1), uint32(3), "org.example.App", []string{"read"}),
			encode(t, order, "ComposeEmail", 2, "", map[string]dbus.Variant{
				"subject": dbus.MakeVariant("hi"), "attachment_fds": dbus.MakeVariant(ix(0, 1))}),
			encode(t, order, "OpenFile", 1, "", dbus.UnixFDIndex(0), map[string]dbus.Variant{"writable": dbus.MakeVariant(true)}),
			encode(t, order, "Deep", 3, []any{ix(2), map[string]dbus.UnixFDIndex{"k": 1}}, map[dbus.UnixFDIndex]string{0: "v"},
				dbus.MakeVariant(dbus.MakeVariant([]map[string]dbus.Variant{{"x": dbus.MakeVariant(dbus.UnixFDIndex(5))}}))),
			encode(t, order, "Misc", 0, byte(1), true, int16(-2), uint16(2), int32(-3), uint64(4), 1.5,
				dbus.ObjectPath("/a/b"), dbus.SignatureOf("x", true), []byte("bytes"), [][]int64{{1, 2}, {3}}),
		)
	}
	return out
}

// collect returns every UnixFDIndex inside v.
func collect(v reflect.Value, out *[]uint32) {
	if !v.IsValid() {
		return
	}
	if v.Type() == reflect.TypeOf(dbus.UnixFDIndex(0)) {
		*out = append(*out, uint32(v.Uint()))
		return
	}
	if v.Type() == reflect.TypeOf(dbus.UnixFD(0)) {
		*out = append(*out, 0xdead)
		return
	}
	switch v.Kind() {
	case reflect.Interface, reflect.Pointer:
		collect(v.Elem(), out)
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			collect(v.Index(i), out)
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			collect(it.Key(), out)
			collect(it.Value(), out)
		}
	case reflect.Struct:
		if vr, ok := v.Interface().(dbus.Variant); ok {
			collect(reflect.ValueOf(vr.Value()), out)
		}
	}
}

// FuzzReceived checks the incoming rewriter: whatever it passes on,
// godbus decodes without error, and every h value in it is a token of this
// message's own descriptors or InvalidFD.
func FuzzReceived(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s, uint8(3))
	}
	null, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte, nfds uint8) {
		if len(data) < 16 {
			return
		}
		if n, err := messageLength(data); err != nil || n != len(data) {
			return
		}
		tr := &transport{}
		for range nfds % 5 {
			fd, err := unix.FcntlInt(uintptr(null), unix.F_DUPFD_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			tr.rfds = append(tr.rfds, fd)
		}
		defer func() {
			tr.tab.closeAll()
			closeFDs(tr.rfds)
		}()
		msg := bytes.Clone(data)
		if _, ok := tr.received(msg); !ok {
			return
		}
		// Bodies left unwalked reach godbus as the bus validated them;
		// hold godbus to what the walk accepts.
		if h, err := parseHeader(data); err != nil {
			t.Fatalf("received passed on a message with a bad header: %v", err)
		} else if _, err := findFDs(bytes.Clone(data), h, nil); err != nil {
			return
		}
		m, err := dbus.DecodeMessage(bytes.NewReader(msg))
		if err != nil {
			var ime dbus.InvalidMessageError
			if !errors.As(err, &ime) {
				t.Fatalf("godbus cannot decode a message passed on: %v", err)
			}
			return
		}
		var vals []uint32
		collect(reflect.ValueOf(m.Body), &vals)
		for _, v := range vals {
			if _, ok := tr.tab.fds[v]; !ok && v != InvalidFD {
				t.Fatalf("h value %#x is neither a token nor InvalidFD", v)
			}
		}
	})
}

// TestReceivedShortFDs: a header counting more descriptors than arrived.
func TestReceivedShortFDs(t *testing.T) {
	msg := encode(t, binary.LittleEndian, "AddFull", 3, []dbus.UnixFDIndex{0, 1, 2}, uint32(0), "", []string{})
	fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	tr := &transport{rfds: []int{fd}}
	defer tr.tab.closeAll()
	if _, ok := tr.received(msg); !ok {
		t.Fatal("received dropped a valid message")
	}
	m, err := dbus.DecodeMessage(bytes.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	got := m.Body[0].([]dbus.UnixFDIndex)
	if _, ok := tr.tab.fds[uint32(got[0])]; !ok || got[1] != dbus.UnixFDIndex(InvalidFD) || got[2] != dbus.UnixFDIndex(InvalidFD) {
		t.Errorf("AddFull fds = %v, want [token invalid invalid]", got)
	}
}

// FuzzAttach checks the outgoing rewriter: for a message whose h values
// are tokens, the result is a valid message whose header counts the
// descriptors attached and whose h values index them.
func FuzzAttach(f *testing.F) {
	for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		f.Add(encode(f, order, "Print", 0, "", "title", dbus.UnixFDIndex(1), map[string]dbus.Variant{"modal": dbus.MakeVariant(true)}))
		f.Add(encode(f, order, "AddFull", 0, []dbus.UnixFDIndex{1, 2, 1}, uint32(3), "org.example.App", []string{"read"}))
		f.Add(encode(f, order, "AddNotification", 0, "app", "id", map[string]dbus.Variant{
			"icon": dbus.MakeVariant(struct {
				K string
				V dbus.Variant
			}{"file-descriptor", dbus.MakeVariant(dbus.UnixFDIndex(3))})}))
	}
	null, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := parseHeader(data)
		if err != nil {
			return
		}
		offs, err := findFDs(data, h, nil)
		if err != nil || len(offs) == 0 {
			return
		}
		tr := &transport{}
		for range 3 {
			tr.tab.add(entry{fd: null, lent: true}) // tokens 1, 2, 3
		}
		in := bytes.Clone(data)
		out, fds, err := tr.attach(data, h, offs)
		if !bytes.Equal(in, data) {
			t.Fatal("attach changed its input")
		}
		if err != nil {
			return
		}
		closeFDs(fds)
		h2, err := parseHeader(out)
		if err != nil {
			t.Fatalf("attach made a bad header: %v", err)
		}
		if !h2.hasUnixFDs || int(h2.unixFDs) != len(fds) {
			t.Fatalf("header counts %d descriptors, %d attached", h2.unixFDs, len(fds))
		}
		offs2, err := findFDs(out, h2, nil)
		if err != nil || len(offs2) != len(offs) {
			t.Fatalf("attach made a body the walk rejects: %v (%d h values, want %d)", err, len(offs2), len(offs))
		}
		for _, off := range offs2 {
			if idx := h2.order.Uint32(out[off:]); int(idx) >= len(fds) {
				t.Fatalf("index %d of %d descriptors", idx, len(fds))
			}
		}
		if _, err := dbus.DecodeMessage(bytes.NewReader(out)); err != nil {
			var ime dbus.InvalidMessageError // flags, type: as in the input
			if !errors.As(err, &ime) {
				t.Fatalf("godbus cannot decode the result: %v", err)
			}
		}
	})
}

func TestUnescape(t *testing.T) {
	if got := unescape("/run/user/1000/my%20bus%2x%"); got != "/run/user/1000/my bus%2x%" {
		t.Errorf("unescape = %q", got)
	}
}

// DialUnix lets the external benchmarks dial as the package does.
var DialUnix = dialUnix
