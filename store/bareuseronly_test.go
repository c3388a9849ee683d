package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/porthole-dev/porthole/store/object"
)

// TestBareUserOnlyRefusesModes: like ostree, a bare-user-only repository
// refuses regular-file content whose mode has bits outside 0775 (setuid,
// setgid, sticky, o+w), whether it arrives as (header, content) or as a
// .filez stream, and stores nothing; modes within 0775 and symlinks are
// accepted.
func TestBareUserOnlyRefusesModes(t *testing.T) {
	ctx := context.Background()
	repo, err := Init(ctx, filepath.Join(t.TempDir(), "repo"), ModeBareUserOnly)
	must(t, err)
	defer repo.Close()
	data := []byte("content\n")
	for _, tc := range []struct {
		mode uint32
		bits string // "" = accepted
	}{
		{0o104755, "04000"}, {0o102755, "02000"}, {0o101755, "01000"},
		{0o100666, "00002"}, {0o106777, "06002"},
		{0o100775, ""}, {0o100644, ""}, {0o100400, ""},
	} {
		h := object.FileHeader{Mode: tc.mode, Size: uint64(len(data))}
		sum, err := object.ContentChecksum(&h, bytes.NewReader(data))
		must(t, err)
		var filez bytes.Buffer
		must(t, object.WriteFilez(&filez, &h, bytes.NewReader(data), 1))

		_, err1 := repo.WriteContent(ctx, h, bytes.NewReader(data), &sum)
		err2 := repo.WriteArchivedContent(ctx, bytes.NewReader(filez.Bytes()), sum)
		_, err3 := repo.WriteContent(ctx, h, bytes.NewReader(data), nil)
		for i, err := range []error{err1, err2, err3} {
			if tc.bits == "" {
				if err != nil {
					t.Errorf("mode %#o, write %d: %v", tc.mode, i, err)
				}
				continue
			}
			var me *InvalidModeError
			if !errors.As(err, &me) || !errors.Is(err, ErrUnsupported) {
				t.Errorf("mode %#o, write %d: err = %v, want an InvalidModeError", tc.mode, i, err)
				continue
			}
			want := fmt.Sprintf("invalid mode 0%o with bits %s", tc.mode, tc.bits)
			if !strings.Contains(err.Error(), want) || (i < 2 && !strings.Contains(err.Error(), sum.String())) {
				t.Errorf("mode %#o, write %d: %q does not say %q and name the object", tc.mode, i, err, want)
			}
		}
		ok, err := repo.HasObject(ctx, object.ObjectName{Checksum: sum, Type: object.TypeFile})
		must(t, err)
		if ok != (tc.bits == "") {
			t.Errorf("mode %#o: stored = %v", tc.mode, ok)
		}
	}
	// Symlinks are always 0777.
	h := object.FileHeader{Mode: object.ModeSymlink | 0o777, SymlinkTarget: "target"}
	if _, err := repo.WriteContent(ctx, h, nil, nil); err != nil {
		t.Errorf("symlink: %v", err)
	}
	must(t, repo.Flush(ctx))
	res, err := Fsck(ctx, repo, FsckOptions{})
	must(t, err)
	if len(res.Corrupt)+len(res.Missing) != 0 {
		t.Errorf("fsck: %+v", res)
	}
	staged := 0
	filepath.WalkDir(filepath.Join(repo.Path(), "tmp"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(p, "/staging-") {
			staged++
		}
		return nil
	})
	if staged != 0 {
		t.Errorf("%d files left in staging", staged)
	}
}

// TestBareUserOnlyOwnersAndXattrs pins ostree's behaviour for content
// whose header has a non-zero owner or xattrs: a pull into bare-user-only
// accepts it (the checksum is verified against the received header) but
// the mode cannot keep owner or xattrs, so fsck names the object as
// corrupt afterwards. tests/TestPullBareUserOnlyMatchesOstree compares
// this with ostree itself.
func TestBareUserOnlyOwnersAndXattrs(t *testing.T) {
	ctx := context.Background()
	data := []byte("owned\n")
	for _, h := range []object.FileHeader{
		{UID: 5, Mode: 0o100644, Size: uint64(len(data))},
		{GID: 7, Mode: 0o100644, Size: uint64(len(data))},
		{Mode: 0o100644, Size: uint64(len(data)), Xattrs: []object.Xattr{{Name: "user.foo", Value: []byte("bar")}}},
	} {
		dir := filepath.Join(t.TempDir(), "repo")
		repo, err := Init(ctx, dir, ModeBareUserOnly)
		must(t, err)
		sum, err := object.ContentChecksum(&h, bytes.NewReader(data))
		must(t, err)
		var filez bytes.Buffer
		must(t, object.WriteFilez(&filez, &h, bytes.NewReader(data), 1))
		if err := repo.WriteArchivedContent(ctx, &filez, sum); err != nil {
			t.Fatalf("%+v: %v", h, err)
		}
		must(t, repo.Flush(ctx))
		res, err := Fsck(ctx, repo, FsckOptions{})
		must(t, err)
		if len(res.Corrupt) != 1 || res.Corrupt[0].Object.Checksum != sum {
			t.Errorf("%+v: fsck corrupt = %+v, want %s", h, res.Corrupt, sum)
		}
		repo.Close()
	}
}
