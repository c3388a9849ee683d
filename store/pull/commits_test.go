package pull

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/porthole-dev/porthole/store"
	"github.com/porthole-dev/porthole/store/object"
)

// TestPullWithResolvedCommits: with the commit of every ref given (read
// from a verified summary index), no summary is fetched, the commit's
// signature and ref binding are still checked, and the ref is set.
func TestPullWithResolvedCommits(t *testing.T) {
	served := copyRepo(t, filepath.Join(vectorsDir(t), "archive-repo"))
	srv := serve(t, served)
	ctx := context.Background()
	r := initRepo(t, store.ModeBareUserOnly)
	addVectorRemote(t, r, srv.URL)
	b, _ := object.ParseChecksum(commitB)
	res, err := Pull(ctx, r, "origin", []string{"test"}, Options{Commits: map[string]object.Checksum{"test": b}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Refs["test"] != b {
		t.Errorf("pulled %s", res.Refs["test"])
	}
	if n := srv.count("summary"); n != 0 {
		t.Errorf("fetched summary files %d times, want none", n)
	}
	if c, err := r.ResolveRef(ctx, "origin:test"); err != nil || c != b {
		t.Errorf("ResolveRef = %s, %v", c, err)
	}
	// A commit that is not on the remote fails, as any missing object.
	var bogus object.Checksum
	bogus[0] = 1
	if _, err := Pull(ctx, r, "origin", []string{"test"}, Options{Commits: map[string]object.Checksum{"test": bogus}}); err == nil || !errors.Is(err, ErrNotFound) {
		t.Errorf("bogus commit: %v", err)
	}
}
