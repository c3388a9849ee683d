package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/porthole-dev/porthole/internal/testenv"
	"github.com/porthole-dev/porthole/store/object"
	"github.com/porthole-dev/porthole/store/storetest"
)

var pinned = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

type modeCase struct {
	mode   Mode
	flag   string
	xattrs bool // the mode keeps xattrs in commits
	root   bool // needs root
}

var modeCases = []modeCase{
	{ModeArchive, "archive", true, false},
	{ModeBareUser, "bare-user", true, false},
	{ModeBareUserOnly, "bare-user-only", false, false},
	{ModeBare, "bare", true, true},
}

func requireOstree(t *testing.T) {
	t.Helper()
	testenv.Require(t, testenv.HaveCommand("ostree"), "needs the ostree binary")
}

// ostreeCommit commits tree with ostree using the deterministic flags.
func ostreeCommit(t *testing.T, repo, tree, branch string, xattrs bool) string {
	args := []string{"commit", "--repo=" + repo, "-b", branch, "--owner-uid=0", "--owner-gid=0",
		"--timestamp=2020-01-01T00:00:00Z", "--no-bindings", "-s", "subject", "--tree=dir=" + tree}
	if !xattrs {
		args = append(args, "--no-xattrs")
	}
	return storetest.Ostree(t, args...)
}

func ourCommit(t *testing.T, repo *Repo, tree, branch string, xattrs bool) object.Checksum {
	t.Helper()
	sum, err := Commit(context.Background(), repo, tree, CommitOptions{
		Branch: branch, Subject: "subject", NoXattrs: !xattrs, NoBindings: true,
		OwnerUID: u32(0), OwnerGID: u32(0), Timestamp: pinned,
	})
	if err != nil {
		t.Fatalf("Commit(%s) = %v", tree, err)
	}
	return sum
}

// TestCommitByteIdentical commits the sample tree (with and without user
// xattrs) in every mode with ostree and with us: same commit checksum, our
// repo passes ostree fsck, theirs passes ours, and checkouts both ways
// match the input.
func TestCommitByteIdentical(t *testing.T) {
	requireOstree(t)
	ctx := context.Background()
	for _, mc := range modeCases {
		for _, withX := range []bool{false, true} {
			if withX && !mc.xattrs {
				continue
			}
			t.Run(fmt.Sprintf("%s/xattrs=%v", mc.flag, withX), func(t *testing.T) {
				if mc.root {
					testenv.Require(t, testenv.IsRoot(), "bare mode needs root")
				}
				dir := t.TempDir()
				tree := storetest.MakeTree(t, filepath.Join(dir, "tree"), storetest.TreeOptions{Xattrs: withX})
				theirsPath := filepath.Join(dir, "theirs")
				storetest.Ostree(t, "init", "--repo="+theirsPath, "--mode="+mc.flag)
				want := ostreeCommit(t, theirsPath, tree, "main", withX)

				repo, err := Init(ctx, filepath.Join(dir, "ours"), mc.mode)
				must(t, err)
				defer repo.Close()
				got := ourCommit(t, repo, tree, "main", withX)
				if got.String() != want {
					t.Fatalf("commit checksum = %s, ostree made %s", got, want)
				}
				if d := cmp.Diff(storetest.ObjectSet(t, theirsPath), storetest.ObjectSet(t, repo.Path())); d != "" {
					t.Errorf("object sets differ (-ostree +ours):\n%s", d)
				}
				storetest.Ostree(t, "fsck", "--repo="+repo.Path())
				res, err := Fsck(ctx, mustOpen(t, theirsPath), FsckOptions{})
				must(t, err)
				if !res.OK() {
					t.Errorf("our fsck of ostree's repo: %+v", res)
				}

				// xattrs reach a checkout only outside user mode (bare).
				copts := storetest.CompareOptions{Xattrs: withX && mc.mode == ModeBare}
				coArgs := []string{"checkout", "-U"}
				ours := CheckoutOptions{UserMode: true}
				if mc.mode == ModeBare {
					coArgs = []string{"checkout"}
					ours = CheckoutOptions{}
				}
				if mc.mode == ModeBareUser {
					// Hard links from bare-user carry user.ostreemeta and
					// mode (m&0775)|0400 in both tools.
					copts.PermMask = 0o775
				}
				// ostree checks out our repo; we check out ostree's.
				theirCO := filepath.Join(dir, "co-ostree")
				storetest.Ostree(t, append(coArgs, "--repo="+repo.Path(), "main", theirCO)...)
				ourCO := filepath.Join(dir, "co-ours")
				must(t, Checkout(ctx, mustOpen(t, theirsPath), "main", ourCO, ours))
				if mc.mode != ModeBareUserOnly && mc.mode != ModeBareUser {
					storetest.CompareTrees(t, tree, theirCO, copts)
				}
				storetest.CompareTrees(t, theirCO, ourCO, copts)

				// As root, full (non-user) checkouts carry owners and
				// xattrs: ostree's of our repo, ours of ostree's.
				if testenv.IsRoot() && withX && mc.mode != ModeBare {
					full := storetest.CompareOptions{Xattrs: true, Owner: true}
					theirFull := filepath.Join(dir, "full-ostree")
					storetest.Ostree(t, "checkout", "--repo="+repo.Path(), "main", theirFull)
					ourFull := filepath.Join(dir, "full-ours")
					must(t, Checkout(ctx, mustOpen(t, theirsPath), "main", ourFull, CheckoutOptions{}))
					if mc.mode == ModeArchive {
						storetest.CompareTrees(t, tree, theirFull, full)
					}
					storetest.CompareTrees(t, theirFull, ourFull, full)
				}
			})
		}
	}
}

func mustOpen(t *testing.T, dir string) *Repo {
	t.Helper()
	r, err := Open(context.Background(), dir)
	must(t, err)
	t.Cleanup(func() { r.Close() })
	return r
}

// TestDedupeMatchesOstree commits two trees sharing most files: the second
// commit adds exactly the objects ostree adds.
func TestDedupeMatchesOstree(t *testing.T) {
	requireOstree(t)
	ctx := context.Background()
	dir := t.TempDir()
	t1 := storetest.MakeTree(t, filepath.Join(dir, "t1"), storetest.TreeOptions{})
	t2 := storetest.MakeTree(t, filepath.Join(dir, "t2"), storetest.TreeOptions{Variant: 2})
	for _, mc := range modeCases[:3] {
		t.Run(mc.flag, func(t *testing.T) {
			theirs := filepath.Join(t.TempDir(), "theirs")
			storetest.Ostree(t, "init", "--repo="+theirs, "--mode="+mc.flag)
			ostreeCommit(t, theirs, t1, "main", false)
			before := storetest.ObjectSet(t, theirs)
			ostreeCommit(t, theirs, t2, "main", false)
			after := storetest.ObjectSet(t, theirs)

			repo, err := Init(ctx, filepath.Join(t.TempDir(), "ours"), mc.mode)
			must(t, err)
			defer repo.Close()
			ourCommit(t, repo, t1, "main", false)
			ours1 := storetest.ObjectSet(t, repo.Path())
			ourCommit(t, repo, t2, "main", false)
			ours2 := storetest.ObjectSet(t, repo.Path())
			if d := cmp.Diff(before, ours1); d != "" {
				t.Errorf("first commit objects differ (-ostree +ours):\n%s", d)
			}
			if d := cmp.Diff(added(before, after), added(ours1, ours2)); d != "" {
				t.Errorf("second commit added objects differ (-ostree +ours):\n%s", d)
			}
		})
	}
}

func added(before, after []string) []string {
	old := map[string]bool{}
	for _, s := range before {
		old[s] = true
	}
	var out []string
	for _, s := range after {
		if !old[s] {
			out = append(out, s)
		}
	}
	return out
}

// TestGoldenVectorsFsck runs our fsck over a copy of the golden archive repo
// and re-checks the vector checksums through the Repo API.
func TestGoldenVectorsFsck(t *testing.T) {
	src := "testdata/vectors/archive-repo"
	if _, err := os.Stat(src); err != nil {
		t.Skip("vectors not available")
	}
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "repo")
	must(t, os.CopyFS(dir, os.DirFS(src)))
	repo := mustOpen(t, dir)
	res, err := Fsck(ctx, repo, FsckOptions{})
	must(t, err)
	if !res.OK() || res.Commits != 3 {
		t.Fatalf("Fsck = %+v", res)
	}
	for ref, want := range map[string]string{
		"test":  "2743a051dbd5d01fa82d16160548905073cc763b5b1537c14a4ce1ccb407a48f",
		"test^": "a5c7614cedb49c2051d8ed78cf32c093b2d86a616126990858450165587f7ffd",
		"xattr": "9eb6d71b0f854cc40d2f64cdb296b24e5c047b218dac198d1090d61abc911e46",
		"2743":  "2743a051dbd5d01fa82d16160548905073cc763b5b1537c14a4ce1ccb407a48f",
	} {
		got, err := repo.ResolveRef(ctx, ref)
		if err != nil || got.String() != want {
			t.Errorf("ResolveRef(%q) = %s, %v; want %s", ref, got, err, want)
		}
	}
	// The xattr commit checks out with its xattrs (not in user mode).
	co := filepath.Join(t.TempDir(), "co")
	must(t, Checkout(ctx, repo, "xattr", co, CheckoutOptions{}))
	buf := make([]byte, 16)
	n, err := getxattr(filepath.Join(co, "withxattr"), "user.test", buf)
	if err != nil || string(buf[:n]) != "abc" {
		t.Errorf("user.test = %q, %v", buf[:n], err)
	}
}

// TestCommitLargeFile covers the streaming (two-pass) path for files over
// smallFile.
func TestCommitLargeFile(t *testing.T) {
	requireOstree(t)
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	must(t, os.MkdirAll(tree, 0o755))
	big := make([]byte, smallFile+12345)
	for i := range big {
		big[i] = byte(i / 7)
	}
	must(t, os.WriteFile(filepath.Join(tree, "large"), big, 0o644))
	for _, mc := range modeCases[:3] {
		theirs := filepath.Join(dir, "theirs-"+mc.flag)
		storetest.Ostree(t, "init", "--repo="+theirs, "--mode="+mc.flag)
		want := ostreeCommit(t, theirs, tree, "main", false)
		repo, err := Init(context.Background(), filepath.Join(dir, "ours-"+mc.flag), mc.mode)
		must(t, err)
		got := ourCommit(t, repo, tree, "main", false)
		repo.Close()
		if got.String() != want {
			t.Errorf("%s: commit %s, ostree made %s", mc.flag, got, want)
		}
		storetest.Ostree(t, "fsck", "--repo="+repo.Path())
	}
}
