package permissionstore

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/godbus/dbus/v5"

	"github.com/porthole-dev/porthole/internal/gvariant"
)

// unsortedDict is a{sv} with keys out of order, nested.
func unsortedDict() gvariant.Value {
	sv := gvariant.MustType("{sv}")
	inner := gvariant.Array(sv,
		gvariant.DictEntry(gvariant.String("y"), gvariant.Variant(gvariant.Byte(1))),
		gvariant.DictEntry(gvariant.String("b"), gvariant.Variant(gvariant.Strings(nil))))
	return gvariant.Array(sv,
		gvariant.DictEntry(gvariant.String("zeta"), gvariant.Variant(gvariant.Int32(-5))),
		gvariant.DictEntry(gvariant.String("alpha"), gvariant.Variant(gvariant.String("text"))),
		gvariant.DictEntry(gvariant.String("mid"), gvariant.Variant(inner)))
}

// setValueMessage encodes a SetValue call carrying data, as the bus
// delivers it (with a sender).
func setValueMessage(t testing.TB, order binary.ByteOrder, serial uint32, data gvariant.Value) []byte {
	t.Helper()
	dv, err := toDBusVariant(data)
	if err != nil {
		t.Fatal(err)
	}
	msg := &dbus.Message{Type: dbus.TypeMethodCall, Headers: map[dbus.HeaderField]dbus.Variant{
		dbus.FieldPath:        dbus.MakeVariant(ObjectPath),
		dbus.FieldInterface:   dbus.MakeVariant(InterfaceName),
		dbus.FieldMember:      dbus.MakeVariant("SetValue"),
		dbus.FieldSender:      dbus.MakeVariant(":1.7"),
		dbus.FieldDestination: dbus.MakeVariant(BusName),
		dbus.FieldSignature:   dbus.MakeVariant(dbus.SignatureOf("", true, "", dv)),
	}, Body: []any{"table", true, "id", dv}}
	var buf bytes.Buffer
	if err := msg.EncodeTo(&buf, order); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	order.PutUint32(b[8:], serial) // the serial godbus would assign
	return b
}

func TestRecorderKeepsDictOrder(t *testing.T) {
	for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		data := gvariant.Tuple(unsortedDict(), gvariant.Array(gvariant.MustType("a{ii}"),
			gvariant.Array(gvariant.MustType("{ii}"), gvariant.DictEntry(gvariant.Int32(9), gvariant.Int32(1)), gvariant.DictEntry(gvariant.Int32(2), gvariant.Int32(3)))))
		stream := append([]byte("DATA\r\nOK 0123456789abcdef0123456789abcdef\r\nAGREE_UNIX_FD\r\n"), setValueMessage(t, order, 41, gvariant.Int32(1))...)
		stream = append(stream, setValueMessage(t, order, 42, data)...)
		// Feed in awkward chunks.
		r := newRecorder()
		for i := 0; i < len(stream); i += 7 {
			r.feed(stream[i:min(i+7, len(stream))])
		}
		raw, ok := r.take(":1.7", 42)
		if !ok {
			t.Fatalf("%v: body of serial 42 not recorded", order)
		}
		v, err := lastArg(raw.body, raw.order, raw.sig)
		if err != nil {
			t.Fatalf("%v: lastArg: %v", order, err)
		}
		if !v.Unbox().Equal(data) {
			t.Errorf("%v: decoded %s, want %s", order, v.Unbox(), data)
		}
		if _, ok := r.take(":1.7", 42); ok {
			t.Error("a body was returned twice")
		}
		if _, ok := r.take(":1.7", 41); !ok {
			t.Error("first body not recorded")
		}
	}
}

func TestWireDecoderTypes(t *testing.T) {
	for _, typ := range []string{"b", "y", "n", "q", "i", "u", "x", "t", "d", "s", "o", "g", "ay", "as",
		"a{sv}", "(ayttu)", "a(si)", "a{sas}", "v", "av", "a{ia{sv}}", "aay", "(s(ib)v)"} {
		v := sample(t, gvariant.MustType(typ))
		for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
			msg := setValueMessage(t, order, 1, v)
			r := newRecorder()
			r.feed([]byte("OK 00\r\n"))
			r.feed(msg)
			raw, ok := r.take(":1.7", 1)
			if !ok {
				t.Fatalf("%s: not recorded", typ)
			}
			got, err := lastArg(raw.body, raw.order, raw.sig)
			if err != nil || !got.Unbox().Equal(v) {
				t.Errorf("%s (%v): got %v, %v; want %s", typ, order, got, err, v)
			}
		}
	}
}

// FuzzRecorder feeds arbitrary bus traffic to the recorder and decodes
// whatever it keeps: nothing may panic.
func FuzzRecorder(f *testing.F) {
	f.Add(append([]byte("OK 00\r\n"), setValueMessage(f, binary.LittleEndian, 1, unsortedDict())...))
	f.Add(append([]byte("OK 00\r\n"), setValueMessage(f, binary.BigEndian, 1, gvariant.Tuple(gvariant.String("s"), gvariant.Variant(gvariant.Strings([]string{"x"}))))...))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := newRecorder()
		r.feed(data)
		for k, raw := range r.bodies {
			lastArg(raw.body, raw.order, raw.sig)
			r.take(k.sender, k.serial)
		}
	})
}
