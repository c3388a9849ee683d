package store

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/porthole-dev/porthole/store/object"
	"github.com/porthole-dev/porthole/store/storetest"
)

// historyRepo makes a repo with main: c1←c2←c3 (a day apart), a deleted
// branch "gone" and a branch "other".
func historyRepo(t *testing.T, mode Mode) string {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	repo, err := Init(ctx, filepath.Join(dir, "repo"), mode)
	must(t, err)
	defer repo.Close()
	for i := 1; i <= 5; i++ {
		tree := storetest.MakeTree(t, filepath.Join(dir, fmt.Sprintf("t%d", i)), storetest.TreeOptions{Variant: i})
		branch := "main"
		switch i {
		case 4:
			branch = "gone"
		case 5:
			branch = "other"
		}
		_, err := Commit(ctx, repo, tree, CommitOptions{Branch: branch, Subject: fmt.Sprint(i), NoXattrs: true,
			OwnerUID: u32(0), OwnerGID: u32(0), Timestamp: pinned.Add(time.Duration(i) * 24 * time.Hour)})
		must(t, err)
	}
	must(t, repo.SetRef(ctx, "", "gone", nil))
	return repo.Path()
}

func TestPruneMatchesOstree(t *testing.T) {
	requireOstree(t)
	ctx := context.Background()
	src := historyRepo(t, ModeArchive)
	cases := []struct {
		args []string
		opts PruneOptions
	}{
		{nil, PruneOptions{Depth: -1}},
		{[]string{"--refs-only"}, PruneOptions{RefsOnly: true, Depth: -1}},
		{[]string{"--refs-only", "--depth=0"}, PruneOptions{RefsOnly: true, Depth: 0}},
		{[]string{"--refs-only", "--depth=1"}, PruneOptions{RefsOnly: true, Depth: 1}},
		{[]string{"--keep-younger-than=2020-01-03T12:00:00Z"}, PruneOptions{Depth: -1, KeepYoungerThan: time.Date(2020, 1, 3, 12, 0, 0, 0, time.UTC)}},
		{[]string{"--refs-only", "--keep-younger-than=2020-01-02T12:00:00Z"}, PruneOptions{RefsOnly: true, Depth: -1, KeepYoungerThan: time.Date(2020, 1, 2, 12, 0, 0, 0, time.UTC)}},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.args), func(t *testing.T) {
			theirs := filepath.Join(t.TempDir(), "theirs")
			ours := filepath.Join(t.TempDir(), "ours")
			must(t, os.CopyFS(theirs, os.DirFS(src)))
			must(t, os.CopyFS(ours, os.DirFS(src)))
			storetest.Ostree(t, append([]string{"prune", "--repo=" + theirs}, tc.args...)...)
			repo := mustOpen(t, ours)
			if _, err := Prune(ctx, repo, tc.opts); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(storetest.ObjectSet(t, theirs), storetest.ObjectSet(t, ours)); d != "" {
				t.Errorf("objects after prune differ (-ostree +ours):\n%s", d)
			}
			storetest.Ostree(t, "fsck", "--repo="+ours)
			res, err := Fsck(ctx, repo, FsckOptions{})
			must(t, err)
			if !res.OK() {
				t.Errorf("fsck after prune: %+v", res)
			}
		})
	}
}

// TestConcurrentCommitters runs two writers (separate Repo values, as two
// processes would) on one repository at once; both commits land intact.
func TestConcurrentCommitters(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "repo")
	r0, err := Init(ctx, path, ModeArchive)
	must(t, err)
	r0.Close()
	var wg sync.WaitGroup
	sums := make([]object.Checksum, 4)
	errs := make([]error, 4)
	for i := range sums {
		tree := storetest.MakeTree(t, filepath.Join(dir, fmt.Sprintf("t%d", i)), storetest.TreeOptions{Variant: i})
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := Open(ctx, path)
			if err != nil {
				errs[i] = err
				return
			}
			defer r.Close()
			sums[i], errs[i] = Commit(ctx, r, tree, CommitOptions{Branch: fmt.Sprintf("b%d", i), NoXattrs: true})
		}()
	}
	wg.Wait()
	repo := mustOpen(t, path)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("writer %d: %v", i, err)
		}
		got, err := repo.ResolveRef(ctx, fmt.Sprintf("b%d", i))
		if err != nil || got != sums[i] {
			t.Errorf("b%d = %s, %v; want %s", i, got, err, sums[i])
		}
	}
	res, err := Fsck(ctx, repo, FsckOptions{})
	must(t, err)
	if !res.OK() || res.Commits != 4 {
		t.Errorf("fsck: %+v", res)
	}
}

// TestLockExcludesOstree: while we hold the exclusive lock, ostree prune
// cannot take it; with our shared lock held, ostree commit still can.
func TestLockExcludesOstree(t *testing.T) {
	requireOstree(t)
	ctx := context.Background()
	repo, _ := sampleRepo(t, ModeArchive)
	unlock, err := repo.Lock(ctx, true)
	must(t, err)
	cmd := exec.Command("ostree", "prune", "--repo="+repo.Path(), "--refs-only")
	// ostree waits lock-timeout-secs (config) before giving up.
	must(t, repo.UpdateConfig(func(c *Config) error { c.SetValue("core", "lock-timeout-secs", "1"); return nil }))
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("ostree prune ran while we held the exclusive lock:\n%s", out)
	}
	unlock()
	unlock, err = repo.Lock(ctx, false)
	must(t, err)
	defer unlock()
	tree := storetest.MakeTree(t, filepath.Join(t.TempDir(), "t"), storetest.TreeOptions{Variant: 9})
	storetest.Ostree(t, "commit", "--repo="+repo.Path(), "-b", "x", "--tree=dir="+tree)
}
