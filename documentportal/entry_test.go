package documentportal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/google/go-cmp/cmp"
)

func TestDecodeData(t *testing.T) {
	e := &Entry{Path: "/home/u/a file", Dev: 2049, Ino: 1234567, Flags: FlagUnique | FlagDirectory}
	got, err := DecodeData(e.Data())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, Entry{Path: e.Path, Dev: e.Dev, Ino: e.Ino, Flags: e.Flags}); diff != "" {
		t.Errorf("DecodeData(Data()) (-got +want):\n%s", diff)
	}
	e.Handle = []byte{1, 2, 3}
	got, err = DecodeData(e.Data())
	if err != nil || string(got.Handle) != "\x01\x02\x03" {
		t.Errorf("DecodeData with handle = %+v, %v", got, err)
	}
	// The data as the permission store's D-Bus API hands it out: a variant
	// of the stored value.
	wire := dbus.MakeVariant(dbus.MakeVariant(e.Data().Value()))
	if _, err := DecodeData(wire); err != nil {
		t.Errorf("DecodeData(nested variant) = %v", err)
	}
	for _, bad := range []dbus.Variant{
		dbus.MakeVariant("x"),
		dbus.MakeVariant(struct {
			P []byte
			D uint64
		}{[]byte("/a\x00"), 1}),
		dbus.MakeVariant(entryData{Path: []byte("relative\x00")}),
		dbus.MakeVariant(entryData{Path: []byte("/a\x00b\x00")}),
		dbus.MakeVariant(entryData{Path: nil}),
	} {
		if _, err := DecodeData(bad); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("DecodeData(%v) = %v, want InvalidArgument", bad, err)
		}
	}
}

// fuzzMessage wraps body (a D-Bus-marshalled "v") in a signal message,
// so godbus's wire decoder (the path stored data takes from the permission
// store) turns it into a dbus.Variant.
func fuzzMessage(body []byte) []byte {
	m := &dbus.Message{Type: dbus.TypeSignal, Headers: map[dbus.HeaderField]dbus.Variant{
		dbus.FieldPath:      dbus.MakeVariant(dbus.ObjectPath("/a")),
		dbus.FieldInterface: dbus.MakeVariant("a.b"),
		dbus.FieldMember:    dbus.MakeVariant("C"),
		dbus.FieldSignature: dbus.MakeVariant(dbus.SignatureOfType(reflect.TypeOf(dbus.Variant{}))),
	}}
	var buf bytes.Buffer
	m.EncodeTo(&buf, binary.LittleEndian)
	out := append(buf.Bytes(), body...)
	binary.LittleEndian.PutUint32(out[4:8], uint32(len(body)))
	return out
}

// variantBody marshals v as a D-Bus "v" body.
func variantBody(t testing.TB, v dbus.Variant) []byte {
	m := &dbus.Message{Type: dbus.TypeSignal, Headers: map[dbus.HeaderField]dbus.Variant{
		dbus.FieldPath:      dbus.MakeVariant(dbus.ObjectPath("/a")),
		dbus.FieldInterface: dbus.MakeVariant("a.b"),
		dbus.FieldMember:    dbus.MakeVariant("C"),
	}, Body: []any{v}}
	m.Headers[dbus.FieldSignature] = dbus.MakeVariant(dbus.SignatureOf(v))
	var full bytes.Buffer
	if err := m.EncodeTo(&full, binary.LittleEndian); err != nil {
		t.Fatal(err)
	}
	b := full.Bytes()
	n := binary.LittleEndian.Uint32(b[4:8])
	return b[len(b)-int(n):]
}

// FuzzDecodeData decodes documents table data as it arrives from the
// permission store: a D-Bus variant, from arbitrary bytes on the wire.
func FuzzDecodeData(f *testing.F) {
	for _, e := range []*Entry{
		{Path: "/home/u/doc.txt", Dev: 2049, Ino: 131},
		{Path: "/tmp/dir", Dev: 1, Ino: 2, Flags: FlagDirectory | FlagUnique},
		{Path: "/x", Flags: FlagTransient, Handle: []byte{1, 2, 3, 4}},
	} {
		f.Add(variantBody(f, e.Data()))
	}
	f.Add(variantBody(f, dbus.MakeVariant("not a document")))
	f.Fuzz(func(t *testing.T, body []byte) {
		msg, err := dbus.DecodeMessage(bytes.NewReader(fuzzMessage(body)))
		if err != nil || len(msg.Body) != 1 {
			return
		}
		v, ok := msg.Body[0].(dbus.Variant)
		if !ok {
			return
		}
		e, err := DecodeData(v)
		if err != nil {
			return
		}
		back, err := DecodeData(e.Data())
		if err != nil {
			t.Fatalf("re-decoding %+v: %v", e, err)
		}
		if back.Path != e.Path || back.Dev != e.Dev || back.Ino != e.Ino || back.Flags != e.Flags || string(back.Handle) != string(e.Handle) {
			t.Fatalf("round trip: %+v != %+v", back, e)
		}
	})
}
