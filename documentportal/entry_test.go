package documentportal

import (
	"errors"
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

// FuzzDecodeData feeds the decoder values in GVariant text format (as
// gdbus and the permission store tools print them).
func FuzzDecodeData(f *testing.F) {
	for _, s := range []string{
		"(b'/home/u/doc.txt', uint64 2049, uint64 131, uint32 0)",
		"(b'/tmp/dir', uint64 1, uint64 2, uint32 4)",
		"([byte 0x2f, 0x61, 0x00], uint64 1, uint64 2, uint32 3, [byte 0x01])",
		"<(b'/x', uint64 0, uint64 0, uint32 1)>",
		"('/x', 1, 2, 3)",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := dbus.ParseVariant(s, dbus.Signature{})
		if err != nil {
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
			t.Fatalf("round trip of %q: %+v != %+v", s, back, e)
		}
	})
}
