package gvariant

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"strings"
	"testing"
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(strings.NewReplacer(" ", "", "|", "").Replace(s))
	if err != nil {
		panic(err)
	}
	return b
}

func TestWorkedExamples(t *testing.T) {
	z := bytes.Repeat([]byte("x"), 300)
	tests := []struct {
		name string
		v    Value
		want []byte
	}{
		{"as", Strings([]string{"a", "bc"}), mustHex("6100626300 0205")},
		{"a{sv}", Array(MustType("{sv}"), DictEntry(String("a"), Variant(Uint32(1)))),
			mustHex("6100 000000000000 01000000 0075 02 0f")},
		{"(ayay)", Tuple(Bytes(z), Bytes([]byte("z"))), append(append(bytes.Clone(z), 'z'), 0x2c, 0x01)},
		{"()", Tuple(), []byte{0}},
		{"(ty)", Tuple(Uint64(1), Byte(2)), mustHex("0100000000000000 02 00000000000000")},
		{"dirmeta", Tuple(Uint32(0), Uint32(0), Uint32(0xed410000), Array(MustType("(ayay)"))),
			mustHex("00000000 00000000 000041ed")},
		{"ms Just", Just(String("")), []byte{0, 0}},
		{"mu Just", Just(Uint32(7)), []byte{7, 0, 0, 0}},
		{"mu Nothing", Nothing(MustType("u")), nil},
		{"ab", Array(MustType("b"), Bool(true), Bool(false)), []byte{1, 0}},
		{"v of ()", Variant(Tuple()), []byte{0, 0, '(', ')'}},
		{"empty as", Strings(nil), nil},
		{"(as)", Tuple(Strings(nil)), nil},
		{"(asas)", Tuple(Strings(nil), Strings(nil)), []byte{0}},
	}
	for _, tt := range tests {
		got := Marshal(tt.v)
		if !bytes.Equal(got, tt.want) {
			t.Errorf("%s: Marshal = %x, want %x", tt.name, got, tt.want)
		}
		back, err := Unmarshal(tt.v.Type(), tt.want)
		if err != nil {
			t.Errorf("%s: Unmarshal = %v", tt.name, err)
			continue
		}
		if !back.Equal(tt.v) {
			t.Errorf("%s: Unmarshal = %v, want %v", tt.name, back, tt.v)
		}
	}
}

func TestParseType(t *testing.T) {
	good := map[string][2]int{ // type → {fixed size, alignment}
		"y": {1, 1}, "b": {1, 1}, "n": {2, 2}, "i": {4, 4}, "h": {4, 4}, "d": {8, 8},
		"s": {0, 1}, "v": {0, 8}, "ay": {0, 1}, "at": {0, 8}, "mu": {0, 4},
		"()": {1, 1}, "(uuu)": {12, 4}, "(ty)": {16, 8}, "(yy)": {2, 1}, "{yy}": {2, 1},
		"(yu)": {8, 4}, "(s)": {0, 1}, "a{sv}": {0, 8}, "(a{sv}aya(say)sstayay)": {0, 8},
		"((()))": {1, 1}, "(y())": {2, 1},
	}
	for s, want := range good {
		typ, err := ParseType(s)
		if err != nil {
			t.Errorf("ParseType(%q) = %v", s, err)
			continue
		}
		size, _ := typ.FixedSize()
		if typ.String() != s || size != want[0] || typ.Alignment() != want[1] {
			t.Errorf("ParseType(%q) = %s size %d align %d, want size %d align %d", s, typ, size, typ.Alignment(), want[0], want[1])
		}
	}
	for _, s := range []string{"", "z", "a", "m", "(", "(u", "{sv", "{vs}", "{s}", "{sss}", "uu", "r", "a*", "m?", "(u))",
		strings.Repeat("a", 129) + "y", strings.Repeat("(", 130) + strings.Repeat(")", 130)} {
		if _, err := ParseType(s); !errors.Is(err, ErrInvalidType) {
			t.Errorf("ParseType(%q) err = %v, want ErrInvalidType", s, err)
		}
	}
	if _, err := ParseType(strings.Repeat("a", 128) + "y"); err != nil {
		t.Errorf("128 nested arrays: %v", err)
	}
}

func TestOffsetWidth(t *testing.T) {
	tests := []struct {
		body uint64
		n    int
		want int
	}{
		{0, 0, 0}, {10, 0, 0}, {0, 1, 1}, {254, 1, 1}, {255, 1, 2}, {253, 2, 1}, {254, 2, 2},
		{65533, 1, 2}, {65534, 1, 4}, {math.MaxUint32 - 4, 1, 4}, {math.MaxUint32 - 3, 1, 8},
		{math.MaxUint32 - 8, 2, 4}, {math.MaxUint32 - 7, 2, 8}, {1 << 40, 3, 8},
	}
	for _, tt := range tests {
		if got := OffsetWidth(tt.body, tt.n); got != tt.want {
			t.Errorf("OffsetWidth(%d, %d) = %d, want %d", tt.body, tt.n, got, tt.want)
		}
	}
	for _, tt := range []struct{ size, want int }{{0, 0}, {1, 1}, {255, 1}, {256, 2}, {65535, 2}, {65536, 4}, {1 << 32, 8}} {
		if got := offsetSize(tt.size); got != tt.want {
			t.Errorf("offsetSize(%d) = %d, want %d", tt.size, got, tt.want)
		}
	}
}

func TestEightByteOffsets(t *testing.T) {
	// Values over 4 GiB are impractical in a test; check the 8-byte path on
	// the reading side with a hand-built framing table the reader trusts.
	data := append([]byte("ab\x00"), 3, 0, 0, 0, 0, 0, 0, 0)
	if got := readOffset(data[3:], 8); got != 3 {
		t.Errorf("readOffset 8 = %d", got)
	}
	if got := appendOffset(nil, 3, 8); !bytes.Equal(got, data[3:]) {
		t.Errorf("appendOffset 8 = %x", got)
	}
}

func TestUnmarshalRejects(t *testing.T) {
	tests := []struct {
		typ, data string
	}{
		{"b", "02"},
		{"u", "010000"},
		{"u", "0100000000"},
		{"s", ""},
		{"s", "61"},
		{"s", "610062 00"},
		{"s", "ff00"},
		{"o", "6100"},
		{"o", "2f2f00"},
		{"o", "2f6100 "[:4] + "2f00"},
		{"g", "6d7500"},
		{"g", "2800"},
		{"as", "6100 03"},
		{"as", "6100 01"},
		{"as", "6100 0200"},
		{"as", "610062 00 04 02"},
		{"as", "6100"},
		{"()", "01"},
		{"()", ""},
		{"(yu)", "01 01000000 02000000"},
		{"(yu)", "01 000001 02000000"},
		{"(su)", "6100 0000 01000000 03"},
		{"(ss)", "6100 6200 02 00"},
		{"(ss)", "6100 6200 03"},
		{"ms", "6100"},
		{"mu", "0100"},
		{"v", "01000000 75"},
		{"v", "01000000 00 7a"},
		{"v", "01000000 00 7575"},
		{"v", "01 00 75"},
		{"v", "00 72"},
		{"v", "00 2a"},
		{"v", ""},
		{"a{sv}", "6100 000000000000 01000000 0075 02 10"},
		{"a{sv}", "6100 000000000100 01000000 0075 02 0f"},
		{"at", "0100000000000000 00"},
		{"(u)", "01000000 00"},
	}
	for _, tt := range tests {
		data := mustHex(tt.data)
		_, err := Unmarshal(MustType(tt.typ), data)
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("Unmarshal(%s, %x) err = %v, want ErrInvalid", tt.typ, data, err)
		}
	}
	// A 2-byte offset where 1 byte suffices is not normal.
	if _, err := Unmarshal(MustType("as"), mustHex("6100 0200")); err == nil {
		t.Error("non-minimal offsets accepted")
	}
}

func TestAccessors(t *testing.T) {
	d := Array(MustType("{sv}"),
		DictEntry(String("version"), Variant(String("1.0"))),
		DictEntry(String("n"), Variant(Uint64(5))),
		DictEntry(String("ref"), Variant(Strings([]string{"a", "b"}))),
	)
	if v, ok := d.Lookup("version"); !ok || v.Str() != "1.0" {
		t.Errorf("Lookup(version) = %v, %v", v, ok)
	}
	if v, ok := d.Lookup("n"); !ok || v.Uint64() != 5 {
		t.Errorf("Lookup(n) = %v, %v", v, ok)
	}
	if v, ok := d.Lookup("ref"); !ok || strings.Join(v.StringSlice(), ",") != "a,b" {
		t.Errorf("Lookup(ref) = %v, %v", v, ok)
	}
	if _, ok := d.Lookup("nope"); ok {
		t.Error("Lookup(nope) found")
	}
	if d.Len() != 3 || d.Index(1).Index(0).Str() != "n" {
		t.Errorf("Len/Index wrong")
	}
	tu := Tuple(Int16(-2), Uint16(3), Int32(-4), Uint32(5), Int64(-6), Uint64(7), Double(1.5), Handle(9), Bool(true), Byte(8),
		ObjectPath("/a/b"), Signature("a{sv}"), Just(String("x")), Nothing(MustType("s")))
	back, err := Unmarshal(tu.Type(), Marshal(tu))
	if err != nil {
		t.Fatal(err)
	}
	if back.Index(0).Int16() != -2 || back.Index(1).Uint16() != 3 || back.Index(2).Int32() != -4 ||
		back.Index(3).Uint32() != 5 || back.Index(4).Int64() != -6 || back.Index(5).Uint64() != 7 ||
		back.Index(6).Double() != 1.5 || back.Index(7).Handle() != 9 || !back.Index(8).Bool() ||
		back.Index(9).Byte() != 8 || back.Index(10).Str() != "/a/b" || back.Index(11).Str() != "a{sv}" ||
		back.Index(12).Index(0).Str() != "x" || back.Index(13).Len() != 0 {
		t.Errorf("round trip = %v", back)
	}
}

func TestConstructorPanics(t *testing.T) {
	for name, f := range map[string]func(){
		"String NUL":       func() { String("a\x00") },
		"String UTF-8":     func() { String("\xff") },
		"ObjectPath":       func() { ObjectPath("a") },
		"Signature":        func() { Signature("m") },
		"Array mixed":      func() { Array(MustType("u"), Uint32(1), Int32(1)) },
		"DictEntry key":    func() { DictEntry(Variant(Byte(1)), Byte(1)) },
		"Uint32 of string": func() { String("x").Uint32() },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

func TestPrint(t *testing.T) {
	tests := []struct {
		v    Value
		want string
	}{
		{Uint32(5), "5"},
		{Variant(Uint32(5)), "<uint32 5>"},
		{Variant(Int32(-5)), "<-5>"},
		{String("it's"), `"it's"`},
		{String("a\nb"), `'a\nb'`},
		{Double(1), "1.0"},
		{Double(0.1), "0.10000000000000001"},
		{Bytes([]byte("abc\x00")), "b'abc'"},
		{Bytes([]byte{1, 2}), "[0x01, 0x02]"},
		{Variant(Bytes([]byte{1, 2})), "<[byte 0x01, 0x02]>"},
		{Variant(Bytes(nil)), "<@ay []>"},
		{Array(MustType("{sv}")), "{}"},
		{Tuple(Byte(1)), "(0x01,)"},
		{Tuple(), "()"},
		{Just(Nothing(MustType("i"))), "just nothing"},
		{Just(Just(Int32(4))), "4"},
		{Array(MustType("{sv}"), DictEntry(String("a"), Variant(Uint32(1)))), "{'a': <uint32 1>}"},
	}
	for _, tt := range tests {
		if got := tt.v.String(); got != tt.want {
			t.Errorf("%s.String() = %s, want %s", tt.v.Type(), got, tt.want)
		}
	}
}
