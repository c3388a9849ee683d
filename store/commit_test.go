package store

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/porthole-dev/porthole/internal/testenv"
	"github.com/porthole-dev/porthole/store/object"
)

func u32(v uint32) *uint32 { return &v }

// goldenTreeA builds the input tree of the vectors' commit A.
func goldenTreeA(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tree")
	must(t, os.MkdirAll(filepath.Join(dir, "sub"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("hello\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "sub/run.sh"), []byte("#!/bin/sh\necho hi\n"), 0o755))
	must(t, os.Symlink("hello.txt", filepath.Join(dir, "link")))
	for _, p := range []string{"", "sub"} {
		must(t, os.Chmod(filepath.Join(dir, p), 0o755))
	}
	must(t, os.Chmod(filepath.Join(dir, "hello.txt"), 0o644))
	must(t, os.Chmod(filepath.Join(dir, "sub/run.sh"), 0o755))
	return dir
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestCommitGoldenA(t *testing.T) {
	ctx := context.Background()
	tree := goldenTreeA(t)
	for _, mode := range []Mode{ModeArchive, ModeBareUser, ModeBareUserOnly} {
		t.Run(mode.String(), func(t *testing.T) {
			repo, err := Init(ctx, filepath.Join(t.TempDir(), "repo"), mode)
			must(t, err)
			defer repo.Close()
			sum, err := Commit(ctx, repo, tree, CommitOptions{
				Branch: "test", Subject: "golden", NoXattrs: true, NoBindings: true,
				OwnerUID: u32(0), OwnerGID: u32(0), Timestamp: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
			})
			must(t, err)
			if sum.String() != "a5c7614cedb49c2051d8ed78cf32c093b2d86a616126990858450165587f7ffd" {
				t.Errorf("Commit = %s, want commit A", sum)
			}
			got, err := repo.ResolveRef(ctx, "test")
			if err != nil || got != sum {
				t.Errorf("ResolveRef(test) = %s, %v", got, err)
			}
			if testenv.HaveCommand("ostree") {
				out, err := exec.Command("ostree", "fsck", "--repo="+repo.Path()).CombinedOutput()
				if err != nil {
					t.Errorf("ostree fsck: %v\n%s", err, out)
				}
			}
		})
	}
}

// TestCommitGoldenX rebuilds the vectors' commit X (xattrs kept).
func TestCommitGoldenX(t *testing.T) {
	ctx := context.Background()
	tree := filepath.Join(t.TempDir(), "tree3")
	must(t, os.MkdirAll(tree, 0o755))
	must(t, os.Chmod(tree, 0o755))
	must(t, os.WriteFile(filepath.Join(tree, "empty"), nil, 0o644))
	p := filepath.Join(tree, "withxattr")
	must(t, os.WriteFile(p, []byte("x"), 0o644))
	for _, x := range [][2]string{{"user.test", "abc"}, {"user.a", "1"}} {
		must(t, setxattr(p, x[0], []byte(x[1])))
	}
	for _, mode := range []Mode{ModeArchive, ModeBareUser} {
		repo, err := Init(ctx, filepath.Join(t.TempDir(), "repo"), mode)
		must(t, err)
		sum, err := Commit(ctx, repo, tree, CommitOptions{
			Branch: "xattr", Subject: "xattr", NoBindings: true,
			OwnerUID: u32(0), OwnerGID: u32(0), Timestamp: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
		})
		must(t, err)
		repo.Close()
		if sum.String() != "9eb6d71b0f854cc40d2f64cdb296b24e5c047b218dac198d1090d61abc911e46" {
			t.Errorf("%s: Commit = %s, want commit X", mode, sum)
		}
	}
}

func TestInitConfigMatchesOstree(t *testing.T) {
	testenv.Require(t, testenv.HaveCommand("ostree"), "needs ostree")
	ctx := context.Background()
	for _, m := range []string{"archive", "bare", "bare-user", "bare-user-only"} {
		mode, _ := ParseMode(m)
		dir := t.TempDir()
		r, err := Init(ctx, filepath.Join(dir, "ours"), mode)
		must(t, err)
		r.Close()
		out, err := exec.Command("ostree", "init", "--repo="+filepath.Join(dir, "theirs"), "--mode="+m).CombinedOutput()
		must(t, err)
		_ = out
		a, _ := os.ReadFile(filepath.Join(dir, "ours/config"))
		b, _ := os.ReadFile(filepath.Join(dir, "theirs/config"))
		if string(a) != string(b) {
			t.Errorf("mode %s: config = %q, ostree wrote %q", m, a, b)
		}
	}
}

var _ = strings.TrimSpace
var _ = object.TypeFile

// TestCommitGoldenB rebuilds commit B (parent A, default ref binding) from
// its own checkout: the tree holds random data only the vectors have.
func TestCommitGoldenB(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	must(t, os.CopyFS(filepath.Join(dir, "vec"), os.DirFS("testdata/vectors/archive-repo")))
	vec := mustOpen(t, filepath.Join(dir, "vec"))
	tree := filepath.Join(dir, "tree2")
	must(t, Checkout(ctx, vec, "test", tree, CheckoutOptions{UserMode: true}))
	repo, err := Init(ctx, filepath.Join(dir, "repo"), ModeBareUserOnly)
	must(t, err)
	defer repo.Close()
	a, err := Commit(ctx, repo, goldenTreeA(t), CommitOptions{Branch: "test", Subject: "golden", NoXattrs: true, NoBindings: true,
		OwnerUID: u32(0), OwnerGID: u32(0), Timestamp: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)})
	must(t, err)
	b, err := Commit(ctx, repo, tree, CommitOptions{Branch: "test", Subject: "second", NoXattrs: true,
		OwnerUID: u32(0), OwnerGID: u32(0), Timestamp: time.Date(2020, 1, 2, 0, 0, 0, 0, time.UTC)})
	must(t, err)
	if a.String() != "a5c7614cedb49c2051d8ed78cf32c093b2d86a616126990858450165587f7ffd" ||
		b.String() != "2743a051dbd5d01fa82d16160548905073cc763b5b1537c14a4ce1ccb407a48f" {
		t.Errorf("commits A, B = %s, %s", a, b)
	}
}
