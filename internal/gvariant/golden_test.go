package gvariant

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ulikunitz/xz"
)

const (
	typeDirtree    = "(a(say)a(sayay))"
	typeDirmeta    = "(uuua(ayay))"
	typeCommit     = "(a{sv}aya(say)sstayay)"
	typeSummary    = "(a(s(taya{sv}))a{sv})"
	typeSummaryIdx = "(a{s(ayaaya{sv})}a{sv})"
	typeSuperblock = "(a{sv}tayay(a{sv}aya(say)sstayay)aya(uayttay)a(yaytt))"
	typeDeltaPart  = "(a(uuu)aa(ayay)ayay)"
	typeDeploy     = "(ssasta{sv})"
	typeFileHeader = "(tuuuusa(ayay))"
)

// goldenSample is one serialised GVariant found in the vectors.
type goldenSample struct {
	name string
	typ  string
	data []byte
}

// goldenSamples returns every GVariant in the ostree/flatpak vectors with
// its type (from ostree-format.md).
func goldenSamples(t testing.TB) []goldenSample {
	t.Helper()
	root := vectorsDir(t)
	var out []goldenSample
	add := func(name, typ string, data []byte) {
		out = append(out, goldenSample{name, typ, data})
	}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		base := d.Name()
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		switch {
		case strings.HasSuffix(base, ".dirtree"):
			add(rel, typeDirtree, data)
		case strings.HasSuffix(base, ".dirmeta"):
			add(rel, typeDirmeta, data)
		case strings.HasSuffix(base, ".commit"):
			add(rel, typeCommit, data)
		case strings.HasSuffix(base, ".commitmeta"), strings.HasSuffix(base, ".sig"),
			strings.HasSuffix(base, ".gpgsigs"), strings.HasSuffix(base, ".index"):
			add(rel, "a{sv}", data)
		case base == "summary":
			add(rel, typeSummary, data)
		case base == "summary.idx":
			add(rel, typeSummaryIdx, data)
		case base == "superblock":
			add(rel, typeSuperblock, data)
		case strings.HasSuffix(base, "-deploy"):
			add(rel, typeDeploy, data)
		case strings.HasPrefix(rel, "flatpak/repo/summaries/") && strings.HasSuffix(base, ".gz"):
			zr, err := gzip.NewReader(bytes.NewReader(data))
			if err != nil {
				return err
			}
			raw, err := io.ReadAll(zr)
			if err != nil {
				return err
			}
			add(rel+" (gunzipped)", typeSummary, raw)
		case strings.Contains(rel, "deltas/") && base == "0":
			switch data[0] {
			case 0:
				add(rel, typeDeltaPart, data[1:])
			case 'x':
				xr, err := xz.NewReader(bytes.NewReader(data[1:]))
				if err != nil {
					return err
				}
				raw, err := io.ReadAll(xr)
				if err != nil {
					return err
				}
				add(rel+" (unxz)", typeDeltaPart, raw)
			}
		case strings.HasSuffix(base, ".filez"):
			n := binary.BigEndian.Uint32(data)
			add(rel+" (header)", typeFileHeader, data[8:8+n])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestGolden(t *testing.T) {
	samples := goldenSamples(t)
	kinds := map[string]int{}
	for _, s := range samples {
		kinds[s.typ]++
		t.Run(s.name, func(t *testing.T) {
			typ := MustType(s.typ)
			v, err := Unmarshal(typ, s.data)
			if err != nil {
				t.Fatalf("Unmarshal(%s) = %v", s.typ, err)
			}
			if got := Marshal(v); !bytes.Equal(got, s.data) {
				t.Fatalf("Marshal(Unmarshal) differs")
			}
			if got := Marshal(rebuild(v)); !bytes.Equal(got, s.data) {
				t.Fatalf("Marshal(rebuild(v)) =\n%x\nwant\n%x", got, s.data)
			}
			if got := encodeWithEncoder(v); !bytes.Equal(got, s.data) {
				t.Fatalf("Encoder output =\n%x\nwant\n%x", got, s.data)
			}
			_ = v.String()
			// Damaged copies must fail cleanly (never panic).
			for cut := 0; cut < len(s.data); cut += 1 + len(s.data)/64 {
				if _, err := Unmarshal(typ, s.data[:cut]); err != nil && !errors.Is(err, ErrInvalid) {
					t.Fatalf("truncated at %d: error %v does not wrap ErrInvalid", cut, err)
				}
			}
		})
	}
	for _, want := range []string{typeDirtree, typeDirmeta, typeCommit, "a{sv}", typeSummary, typeSummaryIdx, typeSuperblock, typeDeltaPart, typeDeploy, typeFileHeader} {
		if kinds[want] == 0 {
			t.Errorf("no golden sample of type %s", want)
		}
	}
}

// encodeWithEncoder re-serialises v through the Encoder's typed methods.
func encodeWithEncoder(v Value) []byte {
	var e Encoder
	encodeInto(&e, v)
	return e.Bytes()
}

func encodeInto(e *Encoder, v Value) {
	switch v.t.kind {
	case 'b':
		e.Bool(v.Bool())
	case 'y':
		e.Byte(v.Byte())
	case 'n':
		e.Int16(v.Int16())
	case 'q':
		e.Uint16(v.Uint16())
	case 'i':
		e.Int32(v.Int32())
	case 'u':
		e.Uint32(v.Uint32())
	case 'h':
		e.Handle(v.Handle())
	case 'x':
		e.Int64(v.Int64())
	case 't':
		e.Uint64(v.Uint64())
	case 'd':
		e.Double(v.Double())
	case 's':
		e.String(v.Str())
	case 'o':
		e.ObjectPath(v.Str())
	case 'g':
		e.Signature(v.Str())
	default:
		if v.t.str == "ay" {
			e.ByteArray(v.ByteSlice())
			return
		}
		e.Begin(v.Type())
		for i := 0; i < v.Len(); i++ {
			encodeInto(e, v.Index(i))
		}
		e.End()
	}
}

func TestGoldenCommitFields(t *testing.T) {
	root := vectorsDir(t)
	data, err := os.ReadFile(filepath.Join(root, "archive-repo/objects/a5/c7614cedb49c2051d8ed78cf32c093b2d86a616126990858450165587f7ffd.commit"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := UnmarshalAlias(MustType(typeCommit), data)
	if err != nil {
		t.Fatal(err)
	}
	if got := v.Index(3).Str(); got != "golden" {
		t.Errorf("subject = %q, want golden", got)
	}
	if got := v.Index(5).Uint64(); got != 0x000000005e0be100<<0 && got != 0x00e10b5e00000000 {
		t.Errorf("timestamp = %#x", got)
	}
	if got := len(v.Index(6).ByteSlice()); got != 32 {
		t.Errorf("root tree length = %d, want 32", got)
	}
	if _, err := Unmarshal(MustType(typeCommit), data[:len(data)-1]); !errors.Is(err, ErrInvalid) {
		t.Errorf("truncated commit: err = %v, want ErrInvalid", err)
	}
}
