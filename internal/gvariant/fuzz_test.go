package gvariant

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

// fuzzTypes are the types FuzzUnmarshal picks from: every OSTree/Flatpak
// metadata type plus small types of every class.
var fuzzTypes = []string{
	typeDirtree, typeDirmeta, typeCommit, "a{sv}", typeSummary, typeSummaryIdx, typeSuperblock,
	typeDeltaPart, typeDeploy, typeFileHeader,
	"b", "y", "n", "u", "t", "d", "s", "o", "g", "v", "ms", "mu", "mv", "mmy", "as", "ay", "at", "ab", "av",
	"aay", "a(yy)", "a()", "()", "(())", "(y())", "(yu)", "(ty)", "(su)", "(ss)", "(sas)", "(vv)", "{sv}", "a{uv}",
	"(ayay)", "maas", "a(say)", "(a{sv}ay)",
}

func addGoldenSeeds(f *testing.F, add func(s goldenSample)) {
	if _, ok := findVectors(); !ok {
		return
	}
	for _, s := range goldenSamples(f) {
		add(s)
	}
}

// checkParsed asserts the invariants of a successfully parsed value: it
// re-encodes to the same bytes by every route, and every child is
// reachable without a panic.
func checkParsed(t *testing.T, v Value, data []byte) {
	t.Helper()
	if got := Marshal(v); !bytes.Equal(got, data) {
		t.Fatalf("Marshal(Unmarshal(%x)) = %x", data, got)
	}
	if got := Marshal(rebuild(v)); !bytes.Equal(got, data) {
		t.Fatalf("Marshal(rebuild(Unmarshal(%s, %x))) = %x", v.t.str, data, got)
	}
	if got := encodeWithEncoder(v); !bytes.Equal(got, data) {
		t.Fatalf("Encoder(Unmarshal(%s, %x)) = %x", v.t.str, data, got)
	}
	_ = v.String()
}

func FuzzUnmarshal(f *testing.F) {
	for i := range fuzzTypes {
		f.Add(uint8(i), []byte{})
		f.Add(uint8(i), []byte{0})
	}
	addGoldenSeeds(f, func(s goldenSample) {
		for i, ts := range fuzzTypes {
			if ts == s.typ {
				f.Add(uint8(i), s.data)
			}
		}
	})
	f.Fuzz(func(t *testing.T, ti uint8, data []byte) {
		typ := MustType(fuzzTypes[int(ti)%len(fuzzTypes)])
		v, err := Unmarshal(typ, data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Unmarshal error %v does not wrap ErrInvalid", err)
			}
			return
		}
		checkParsed(t, v, data)
		// A variant's child is parsed too (any type string).
		if va, err := Unmarshal(MustType("v"), data); err == nil {
			checkParsed(t, va, data)
		}
	})
}

func FuzzRoundTrip(f *testing.F) {
	f.Add(uint64(1), "a{sv}")
	f.Add(uint64(2), typeCommit)
	f.Add(uint64(3), typeSuperblock)
	f.Add(uint64(4), "(vv)")
	f.Add(uint64(5), "mmas")
	f.Add(uint64(6), "a(yyu)")
	f.Fuzz(func(t *testing.T, seed uint64, ts string) {
		typ, err := ParseType(ts)
		if err != nil || typ.ti.depth > 64 || len(ts) > 200 {
			return
		}
		g := gen{rand.New(rand.NewPCG(seed, seed>>32))}
		v := g.value(ts, 4)
		data := Marshal(v)
		back, err := Unmarshal(typ, data)
		if err != nil {
			t.Fatalf("Unmarshal(%s, Marshal(%s)) = %v", ts, v, err)
		}
		if !back.Equal(v) || back.String() != v.String() {
			t.Fatalf("round trip %s: %s != %s", ts, back, v)
		}
		checkParsed(t, back, data)
	})
}
