package store

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/porthole-dev/porthole/internal/testenv"
	"github.com/porthole-dev/porthole/store/object"
)

// TestRepoAPI exercises the object, ref and state API in every mode, the
// way pull uses it: objects copied between repos of different modes as
// .filez streams and raw metadata.
func TestRepoAPI(t *testing.T) {
	ctx := context.Background()
	src, commit := sampleRepo(t, ModeArchive)
	for _, mc := range modeCases {
		t.Run(mc.flag, func(t *testing.T) {
			if mc.root {
				testenv.Require(t, testenv.IsRoot(), "bare mode needs root")
			}
			dst, err := Init(ctx, filepath.Join(t.TempDir(), "repo"), mc.mode)
			must(t, err)
			defer dst.Close()
			set, err := Traverse(ctx, src, commit, -1, nil)
			must(t, err)
			for n := range set {
				if ok, err := dst.HasObject(ctx, n); err != nil || ok {
					t.Fatalf("HasObject(%s) before copy = %v, %v", n, ok, err)
				}
				if n.Type == object.TypeFile {
					rc, err := src.ReadArchivedContent(ctx, n.Checksum)
					must(t, err)
					must(t, dst.WriteArchivedContent(ctx, rc, n.Checksum))
					rc.Close()
				} else {
					data, err := src.ReadMetadata(ctx, n.Type, n.Checksum)
					must(t, err)
					want := n.Checksum
					if _, err := dst.WriteMetadata(ctx, n.Type, data, &want); err != nil {
						t.Fatal(err)
					}
				}
				if ok, err := dst.HasObject(ctx, n); err != nil || !ok {
					t.Fatalf("HasObject(%s) after write (staged) = %v, %v", n, ok, err)
				}
			}
			must(t, dst.MarkCommitPartial(ctx, commit))
			if p, _ := dst.IsCommitPartial(ctx, commit); !p {
				t.Errorf("IsCommitPartial = false after Mark")
			}
			must(t, dst.ClearCommitPartial(ctx, commit))
			if p, _ := dst.IsCommitPartial(ctx, commit); p {
				t.Errorf("IsCommitPartial = true after Clear")
			}
			must(t, dst.SetRef(ctx, "origin", "main", &commit))
			res, err := Fsck(ctx, dst, FsckOptions{})
			must(t, err)
			if !res.OK() || res.Objects != len(set) {
				t.Fatalf("Fsck = %+v, %d objects expected", res, len(set))
			}
			refs, err := dst.ListRefs(ctx, "origin")
			must(t, err)
			if d := cmp.Diff(map[string]object.Checksum{"main": commit}, refs); d != "" {
				t.Errorf("ListRefs(origin):\n%s", d)
			}
			for _, spec := range []string{"origin:main", "origin/main", commit.String()[:8]} {
				if got, err := dst.ResolveRef(ctx, spec); err != nil || got != commit {
					t.Errorf("ResolveRef(%q) = %s, %v", spec, got, err)
				}
			}
			if _, err := dst.ResolveRef(ctx, "nope"); !errors.Is(err, ErrRefNotFound) {
				t.Errorf("ResolveRef(nope) = %v, want ErrRefNotFound", err)
			}
			// Every content object reads back identically in this mode and
			// round-trips as .filez into an archive repo.
			back, err := Init(ctx, filepath.Join(t.TempDir(), "back"), ModeArchive)
			must(t, err)
			defer back.Close()
			for n := range set {
				if n.Type != object.TypeFile {
					continue
				}
				h1, r1, err := src.OpenContent(ctx, n.Checksum)
				must(t, err)
				h2, r2, err := dst.OpenContent(ctx, n.Checksum)
				must(t, err)
				b1, _ := io.ReadAll(r1)
				b2, _ := io.ReadAll(r2)
				r1.Close()
				r2.Close()
				if !bytes.Equal(b1, b2) || h1.Mode != h2.Mode || h1.SymlinkTarget != h2.SymlinkTarget || h1.Size != h2.Size {
					t.Errorf("%s: %+v vs %+v", n, h1, h2)
				}
				fz, err := dst.ReadArchivedContent(ctx, n.Checksum)
				must(t, err)
				must(t, back.WriteArchivedContent(ctx, fz, n.Checksum))
				fz.Close()
			}
			// A .filez for the wrong checksum is refused and not stored.
			var file object.ObjectName
			for n := range set {
				if n.Type == object.TypeFile {
					file = n
					break
				}
			}
			fz, err := src.ReadArchivedContent(ctx, file.Checksum)
			must(t, err)
			wrong := object.Sum([]byte("wrong"))
			err = dst.WriteArchivedContent(ctx, fz, wrong)
			fz.Close()
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("WriteArchivedContent(wrong checksum) = %v", err)
			}
			if ok, _ := dst.HasObject(ctx, object.ObjectName{Checksum: wrong, Type: object.TypeFile}); ok {
				t.Errorf("mismatching object was stored")
			}
			// Detached metadata.
			if _, err := dst.ReadCommitMeta(ctx, commit); !errors.Is(err, ErrObjectNotFound) {
				t.Errorf("ReadCommitMeta(none) = %v", err)
			}
			e := object.ByteArraysValue([][]byte{[]byte("sig")})
			e.Key = "ostree.gpgsigs"
			meta := object.Metadata{e}.Marshal()
			must(t, dst.WriteCommitMeta(ctx, commit, meta))
			if got, err := dst.ReadCommitMeta(ctx, commit); err != nil || !bytes.Equal(got, meta) {
				t.Errorf("ReadCommitMeta = %x, %v", got, err)
			}
			if err := dst.WriteCommitMeta(ctx, commit, []byte("junk")); err == nil {
				t.Errorf("WriteCommitMeta(junk) succeeded")
			}
			// Content written directly, with and without a wanted checksum.
			h := object.FileHeader{Mode: 0o100644, Size: 5}
			sum, err := dst.WriteContent(ctx, h, strings.NewReader("hello"), nil)
			must(t, err)
			if _, err := dst.WriteContent(ctx, h, strings.NewReader("HELLO"), &wrong); !errors.Is(err, ErrCorrupt) {
				t.Errorf("WriteContent(mismatch) = %v", err)
			}
			_, rc, err := dst.OpenContent(ctx, sum)
			must(t, err)
			got, _ := io.ReadAll(rc)
			rc.Close()
			if string(got) != "hello" {
				t.Errorf("OpenContent = %q", got)
			}
			must(t, dst.Flush(ctx))
			res, err = Fsck(ctx, dst, FsckOptions{})
			must(t, err)
			if !res.OK() {
				t.Errorf("final fsck: %+v", res)
			}
		})
	}
}
