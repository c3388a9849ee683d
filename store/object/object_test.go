package object

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const vectors = "../testdata/vectors/archive-repo"

func readVector(t testing.TB, name string) []byte {
	t.Helper()
	n, err := ParseObjectName(name)
	if err != nil {
		t.Fatal(err)
	}
	d, err := os.ReadFile(filepath.Join(vectors, "objects", n.LoosePath(true)))
	if err != nil {
		t.Skipf("vectors not available: %v", err)
	}
	return d
}

const (
	commitA   = "a5c7614cedb49c2051d8ed78cf32c093b2d86a616126990858450165587f7ffd"
	commitB   = "2743a051dbd5d01fa82d16160548905073cc763b5b1537c14a4ce1ccb407a48f"
	commitX   = "9eb6d71b0f854cc40d2f64cdb296b24e5c047b218dac198d1090d61abc911e46"
	rootTreeA = "6fb3c0a89e139301af358431ff45f3fe368af3c258012f27a745e63730d901b6"
	subTreeA  = "230db4e51acc220a7118c2f5904c9e45b637e0ef4a6093ba58aab0c6e303ae51"
	dirMeta0  = "446a0ef11b7cc167f3b603e585c7eeeeb675faa412d5ec73f62988eb0b6c5488"
)

func TestMetadataVectorsRoundTrip(t *testing.T) {
	for _, name := range []string{commitA + ".commit", commitB + ".commit", commitX + ".commit"} {
		d := readVector(t, name)
		c, err := UnmarshalCommit(d)
		if err != nil {
			t.Fatalf("UnmarshalCommit(%s) = %v", name, err)
		}
		if got := Sum(c.Marshal()).String(); got != name[:64] {
			t.Errorf("commit %s re-marshals to %s", name, got)
		}
	}
	a, _ := UnmarshalCommit(readVector(t, commitA+".commit"))
	if a.Subject != "golden" || a.Timestamp != 1577836800 || a.Parent != nil || a.RootTree.String() != rootTreeA {
		t.Errorf("commit A = %+v", a)
	}
	if got := a.ContentChecksum().String(); got != "d534a56ccd637498a79a41bb9a9b3b0933048e54790047c4ff2a8df9163bce57" {
		t.Errorf("ContentChecksum = %s", got)
	}
	b, _ := UnmarshalCommit(readVector(t, commitB+".commit"))
	if b.Parent == nil || b.Parent.String() != commitA {
		t.Errorf("commit B parent = %v", b.Parent)
	}
	e, ok := b.Metadata.Lookup("ostree.ref-binding")
	if !ok || e.Type != "as" {
		t.Fatalf("commit B metadata = %+v", b.Metadata)
	}
	if ss, err := ParseStrings(e.Value); err != nil || len(ss) != 1 || ss[0] != "test" {
		t.Errorf("ref-binding = %v, %v", ss, err)
	}
	var m Metadata
	m.Set(StringsValue([]string{"test"}))
	m[0].Key = "ostree.ref-binding"
	if !bytes.Equal(m.Marshal(), b.Metadata.Marshal()) {
		t.Errorf("ref-binding metadata re-encoding differs")
	}

	for _, name := range []string{rootTreeA + ".dirtree", subTreeA + ".dirtree"} {
		d := readVector(t, name)
		tr, err := UnmarshalDirTree(d)
		if err != nil {
			t.Fatalf("UnmarshalDirTree(%s) = %v", name, err)
		}
		if got := Sum(tr.Marshal()).String(); got != name[:64] {
			t.Errorf("dirtree %s re-marshals to %s", name, got)
		}
	}
	dm, err := UnmarshalDirMeta(readVector(t, dirMeta0+".dirmeta"))
	if err != nil || dm.Mode != 040755 {
		t.Fatalf("UnmarshalDirMeta = %+v, %v", dm, err)
	}
	if got := Sum((&DirMeta{Mode: 040755}).Marshal()).String(); got != dirMeta0 {
		t.Errorf("dirmeta checksum = %s", got)
	}
}

func TestFilezVectors(t *testing.T) {
	entries, err := filepath.Glob(filepath.Join(vectors, "objects/*/*.filez"))
	if err != nil || len(entries) == 0 {
		t.Skip("no vectors")
	}
	for _, p := range entries {
		want := filepath.Base(filepath.Dir(p)) + strings.TrimSuffix(filepath.Base(p), ".filez")
		f, _ := os.Open(p)
		h, r, err := ReadFilez(f)
		if err != nil {
			t.Fatalf("ReadFilez(%s) = %v", p, err)
		}
		content, err := io.ReadAll(r)
		f.Close()
		if err != nil {
			t.Fatalf("reading %s: %v", p, err)
		}
		got, _ := ContentChecksum(&h, bytes.NewReader(content))
		if got.String() != want {
			t.Errorf("%s: checksum %s", p, got)
		}
		var buf bytes.Buffer
		if err := WriteFilez(&buf, &h, bytes.NewReader(content), DefaultCompressionLevel); err != nil {
			t.Fatal(err)
		}
		h2, r2, err := ReadFilez(&buf)
		if err != nil {
			t.Fatal(err)
		}
		c2, _ := io.ReadAll(r2)
		if !bytes.Equal(c2, content) || h2.Mode != h.Mode {
			t.Errorf("%s: round trip differs", p)
		}
	}
}

func TestHelloHeader(t *testing.T) {
	h := FileHeader{Mode: 0100644, Size: 6}
	if got := hex.EncodeToString(h.MarshalChecksumHeader()); got != "000000000000000000081a4000000000011"[:0]+"0000000000000000000081a4000000000011" {
		t.Errorf("checksum header = %s", got)
	}
	c, _ := ContentChecksum(&h, strings.NewReader("hello\n"))
	if c.String() != "44f778e59f0a4748d6b0c90a47347212a231c4ad1e8f7ea5c5dffc7749153a6b" {
		t.Errorf("hello checksum = %s", c)
	}
	l := FileHeader{Mode: 0120777, SymlinkTarget: "hello.txt"}
	c, _ = ContentChecksum(&l, nil)
	if c.String() != "f66efa496a72379413c44593de510dc344beb045294f1a543da87b2b6118db35" {
		t.Errorf("link checksum = %s", c)
	}
}

func TestHostileDirTree(t *testing.T) {
	var z Checksum
	for _, name := range []string{"", ".", "..", "a/b", "a\x00b", "\xff"} {
		tr := DirTree{Files: []TreeFile{{name, z}}}
		if _, err := UnmarshalDirTree(tr.Marshal()); !errors.Is(err, ErrInvalid) {
			t.Errorf("file name %q: err = %v", name, err)
		}
		tr = DirTree{Dirs: []TreeDir{{name, z, z}}}
		if _, err := UnmarshalDirTree(tr.Marshal()); !errors.Is(err, ErrInvalid) {
			t.Errorf("dir name %q: err = %v", name, err)
		}
	}
	unsorted := DirTree{Files: []TreeFile{{"b", z}, {"a", z}}}
	if _, err := UnmarshalDirTree(unsorted.Marshal()); !errors.Is(err, ErrInvalid) {
		t.Errorf("unsorted: err = %v", err)
	}
	bad := (&DirMeta{Mode: 0100644}).Marshal()
	if _, err := UnmarshalDirMeta(bad); !errors.Is(err, ErrInvalid) {
		t.Errorf("dirmeta file mode: err = %v", err)
	}
}

func TestTruncatedAndGarbage(t *testing.T) {
	for _, name := range []string{commitB + ".commit", rootTreeA + ".dirtree", dirMeta0 + ".dirmeta"} {
		d := readVector(t, name)
		n, _ := ParseObjectName(name)
		for i := 0; i < len(d); i++ {
			if err := parseAny(n.Type, d[:i]); err == nil {
				t.Errorf("%s truncated to %d parsed", name, i)
			} else if !errors.Is(err, ErrInvalid) {
				t.Errorf("%s truncated to %d: %v does not wrap ErrInvalid", name, i, err)
			}
		}
	}
}

func parseAny(t ObjectType, d []byte) error {
	var err error
	switch t {
	case TypeCommit:
		_, err = UnmarshalCommit(d)
	case TypeDirTree:
		_, err = UnmarshalDirTree(d)
	case TypeDirMeta:
		_, err = UnmarshalDirMeta(d)
	case TypeCommitMeta:
		_, err = UnmarshalMetadata(d)
	}
	return err
}

func TestValidateRef(t *testing.T) {
	for _, ok := range []string{"test", "app/org.x.Y/x86_64/stable", "a-b_c.d"} {
		if err := ValidateRef(ok); err != nil {
			t.Errorf("ValidateRef(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "/a", "a/", "a//b", "a/../b", "..", "a b", "a:b"} {
		if err := ValidateRef(bad); err == nil {
			t.Errorf("ValidateRef(%q) = nil", bad)
		}
	}
}
