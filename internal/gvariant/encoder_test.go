package gvariant

import (
	"bytes"
	"testing"
)

func TestEncoder(t *testing.T) {
	var e Encoder
	e.Begin(MustType("(a{sv}mvmsmu)"))
	e.Begin(MustType("a{sv}"))
	e.Begin(MustType("{sv}"))
	e.String("a")
	e.Begin(MustType("v"))
	e.Uint32(1)
	e.End()
	e.End()
	e.Begin(MustType("{sv}"))
	e.String("b")
	e.Begin(MustType("v"))
	e.Begin(MustType("(ty)"))
	e.Uint64(2)
	e.Byte(3)
	e.End()
	e.End()
	e.End()
	e.End()
	e.Begin(MustType("mv")) // Nothing
	e.End()
	e.Begin(MustType("ms"))
	e.String("x")
	e.End()
	e.Begin(MustType("mu"))
	e.Uint32(9)
	e.End()
	e.End()
	got := e.Finish()
	want := Tuple(
		Array(MustType("{sv}"),
			DictEntry(String("a"), Variant(Uint32(1))),
			DictEntry(String("b"), Variant(Tuple(Uint64(2), Byte(3))))),
		Nothing(MustType("v")), Just(String("x")), Just(Uint32(9)))
	if !got.Equal(want) {
		t.Fatalf("Encoder = %v (%x), want %v (%x)", got, got.Data(), want, want.Data())
	}

	// Appending after existing bytes aligns relative to the value's start.
	e.Reset([]byte("pfx"))
	e.Begin(MustType("(yt)"))
	e.Byte(1)
	e.Uint64(2)
	e.End()
	if b := e.Bytes(); !bytes.Equal(b[3:], Marshal(Tuple(Byte(1), Uint64(2)))) || string(b[:3]) != "pfx" {
		t.Errorf("Encoder after prefix = %x", b)
	}

	e.Reset(nil)
	e.Uint32(5)
	if v := e.Finish(); v.Uint32() != 5 {
		t.Errorf("scalar root = %v", v)
	}
}

func TestEncoderMisuse(t *testing.T) {
	for name, f := range map[string]func(e *Encoder){
		"wrong member":  func(e *Encoder) { e.Begin(MustType("(u)")); e.Int32(1) },
		"too many":      func(e *Encoder) { e.Begin(MustType("(u)")); e.Uint32(1); e.Uint32(2) },
		"too few":       func(e *Encoder) { e.Begin(MustType("(uu)")); e.Uint32(1); e.End() },
		"two in maybe":  func(e *Encoder) { e.Begin(MustType("mu")); e.Uint32(1); e.Uint32(2) },
		"empty variant": func(e *Encoder) { e.Begin(MustType("v")); e.End() },
		"End alone":     func(e *Encoder) { e.End() },
		"after done":    func(e *Encoder) { e.Uint32(1); e.Uint32(2) },
		"incomplete":    func(e *Encoder) { e.Begin(MustType("as")); e.Bytes() },
		"Begin scalar":  func(e *Encoder) { e.Begin(MustType("u")) },
		"bad string":    func(e *Encoder) { e.String("\x00") },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			var e Encoder
			f(&e)
		}()
	}
}
