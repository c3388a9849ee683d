package gvariant

import (
	"crypto/sha256"
	"fmt"
	"testing"
)

type benchEntry struct {
	name string
	sum  [32]byte
}

func benchEntries(n int) []benchEntry {
	es := make([]benchEntry, n)
	for i := range es {
		es[i].name = fmt.Sprintf("file-%06d.txt", i)
		es[i].sum = sha256.Sum256([]byte(es[i].name))
	}
	return es
}

var (
	tDirtree = MustType(typeDirtree)
	tFileEnt = MustType("a(say)")
	tDirEnt  = MustType("a(sayay)")
	tSayay   = MustType("(sayay)")
	tSay     = MustType("(say)")
)

// encodeDirtree builds a dirtree with 5000 files and 100 directories with
// the Encoder (the hot path).
func encodeDirtree(e *Encoder, dst []byte, files, dirs []benchEntry) []byte {
	e.Reset(dst)
	e.Begin(tDirtree)
	e.Begin(tFileEnt)
	for i := range files {
		e.Begin(tSay)
		e.String(files[i].name)
		e.ByteArray(files[i].sum[:])
		e.End()
	}
	e.End()
	e.Begin(tDirEnt)
	for i := range dirs {
		e.Begin(tSayay)
		e.String(dirs[i].name)
		e.ByteArray(dirs[i].sum[:])
		e.ByteArray(dirs[i].sum[:])
		e.End()
	}
	e.End()
	e.End()
	return e.Bytes()
}

func dirtreeValue(files, dirs []benchEntry) Value {
	fv := make([]Value, len(files))
	for i := range files {
		fv[i] = Tuple(String(files[i].name), Bytes(files[i].sum[:]))
	}
	dv := make([]Value, len(dirs))
	for i := range dirs {
		dv[i] = Tuple(String(dirs[i].name), Bytes(dirs[i].sum[:]), Bytes(dirs[i].sum[:]))
	}
	return Tuple(Array(tSay, fv...), Array(tSayay, dv...))
}

func BenchmarkDirtreeEncode(b *testing.B) {
	files, dirs := benchEntries(5000), benchEntries(100)
	var e Encoder
	data := encodeDirtree(&e, nil, files, dirs)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		data = encodeDirtree(&e, data[:0], files, dirs)
	}
}

func BenchmarkDirtreeEncodeValues(b *testing.B) {
	files, dirs := benchEntries(5000), benchEntries(100)
	b.SetBytes(int64(len(Marshal(dirtreeValue(files, dirs)))))
	b.ReportAllocs()
	for b.Loop() {
		Marshal(dirtreeValue(files, dirs))
	}
}

// BenchmarkDirtreeDecode validates a 5000-entry dirtree and visits every
// name and checksum without copying.
func BenchmarkDirtreeDecode(b *testing.B) {
	var e Encoder
	data := encodeDirtree(&e, nil, benchEntries(5000), benchEntries(100))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		v, err := UnmarshalAlias(tDirtree, data)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		fs := v.Index(0)
		for i, l := 0, fs.Len(); i < l; i++ {
			f := fs.Index(i)
			n += len(f.Index(0).StrBytes()) + len(f.Index(1).ByteSlice())
		}
		ds := v.Index(1)
		for i, l := 0, ds.Len(); i < l; i++ {
			d := ds.Index(i)
			n += len(d.Index(0).StrBytes()) + len(d.Index(1).ByteSlice()) + len(d.Index(2).ByteSlice())
		}
		if n == 0 {
			b.Fatal("empty")
		}
	}
}

func BenchmarkDirtreeUnmarshal(b *testing.B) {
	var e Encoder
	data := encodeDirtree(&e, nil, benchEntries(5000), benchEntries(100))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Unmarshal(tDirtree, data); err != nil {
			b.Fatal(err)
		}
	}
}

func benchCommit() Value {
	sum := sha256.Sum256([]byte("x"))
	meta := Array(MustType("{sv}"),
		DictEntry(String("ostree.ref-binding"), Variant(Strings([]string{"app/org.test.Hello/x86_64/stable"}))),
		DictEntry(String("version"), Variant(String("1.0"))),
		DictEntry(String("xa.metadata"), Variant(String("[Application]\nname=org.test.Hello\nruntime=org.test.Platform/x86_64/1\n"))),
		DictEntry(String("xa.installed-size"), Variant(Uint64(1<<40))),
	)
	return Tuple(meta, Bytes(sum[:]), Array(tSay), String("Export org.test.Hello"), String("body"),
		Uint64(0x5e0be100), Bytes(sum[:]), Bytes(sum[:]))
}

func BenchmarkCommitEncode(b *testing.B) {
	data := Marshal(benchCommit())
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		Marshal(benchCommit())
	}
}

func BenchmarkCommitDecode(b *testing.B) {
	data := Marshal(benchCommit())
	t := MustType(typeCommit)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		v, err := UnmarshalAlias(t, data)
		if err != nil {
			b.Fatal(err)
		}
		if _, ok := v.Index(0).Lookup("xa.installed-size"); !ok {
			b.Fatal("no key")
		}
		_ = v.Index(6).ByteSlice()
	}
}
