package object

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// seedObjects adds every vector object with the given suffix.
func seedObjects(f *testing.F, suffix string) {
	paths, _ := filepath.Glob(filepath.Join(vectors, "objects/*/*."+suffix))
	for _, p := range paths {
		if d, err := os.ReadFile(p); err == nil {
			f.Add(d)
		}
	}
}

func FuzzDirTree(f *testing.F) {
	seedObjects(f, "dirtree")
	f.Add((&DirTree{}).Marshal())
	f.Fuzz(func(t *testing.T, d []byte) {
		tr, err := UnmarshalDirTree(d)
		if err != nil {
			return
		}
		if !bytes.Equal(tr.Marshal(), d) {
			t.Fatalf("accepted non-normal dirtree %x", d)
		}
		if err := tr.Validate(); err != nil {
			t.Fatalf("accepted invalid dirtree: %v", err)
		}
	})
}

func FuzzDirMeta(f *testing.F) {
	seedObjects(f, "dirmeta")
	f.Add((&DirMeta{Mode: 040700, Xattrs: []Xattr{{"user.a", []byte("1")}}}).Marshal())
	f.Fuzz(func(t *testing.T, d []byte) {
		m, err := UnmarshalDirMeta(d)
		if err != nil {
			return
		}
		if !bytes.Equal(m.Marshal(), d) || m.Validate() != nil {
			t.Fatalf("accepted bad dirmeta %x", d)
		}
	})
}

func FuzzCommit(f *testing.F) {
	seedObjects(f, "commit")
	f.Fuzz(func(t *testing.T, d []byte) {
		c, err := UnmarshalCommit(d)
		if err != nil {
			return
		}
		if !bytes.Equal(c.Marshal(), d) {
			t.Fatalf("accepted non-normal commit %x", d)
		}
	})
}

func FuzzCommitMeta(f *testing.F) {
	seedObjects(f, "commitmeta")
	seedObjects(f, "commit") // not a{sv}: must be refused cleanly
	f.Add(Metadata{StringValue("x"), ByteArraysValue([][]byte{{1, 2}, nil})}.Marshal())
	f.Fuzz(func(t *testing.T, d []byte) {
		m, err := UnmarshalMetadata(d)
		if err != nil {
			return
		}
		if !bytes.Equal(m.Marshal(), d) {
			t.Fatalf("accepted non-normal a{sv} %x", d)
		}
	})
}

func FuzzFilez(f *testing.F) {
	seedObjects(f, "filez")
	f.Fuzz(func(t *testing.T, d []byte) {
		h, r, err := ReadFilez(bytes.NewReader(d))
		if err != nil {
			return
		}
		if h.Validate() != nil {
			t.Fatalf("accepted invalid header %+v", h)
		}
		content, err := io.ReadAll(io.LimitReader(r, 4<<10))
		r.Close()
		if err != nil {
			return
		}
		if len(content) < 4<<10 && uint64(len(content)) != h.Size {
			t.Fatalf("content of %d bytes, header says %d", len(content), h.Size)
		}
	})
}

func FuzzFileHeader(f *testing.F) {
	f.Add((&FileHeader{Mode: 0100644}).MarshalChecksumHeader())
	f.Add((&FileHeader{Mode: 0120777, SymlinkTarget: "x", Xattrs: []Xattr{{"user.a", []byte("1")}}}).MarshalChecksumHeader())
	f.Fuzz(func(t *testing.T, d []byte) {
		h, err := UnmarshalChecksumHeader(d)
		if err != nil {
			return
		}
		if !bytes.Equal(h.MarshalChecksumHeader(), d) {
			t.Fatalf("accepted non-normal header %x", d)
		}
		um, err := UnmarshalUserMeta(d)
		if err == nil && !bytes.Equal(um.Marshal(), d) {
			t.Fatalf("accepted non-normal user.ostreemeta %x", d)
		}
	})
}
