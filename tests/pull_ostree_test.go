package tests

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestOstreePullsFromPorthole: a repository we commit, sign (commit and
// summary) and serve over HTTP on 127.0.0.1 is pulled by the real ostree
// with gpg-verify and gpg-verify-summary on, and checks out to the same tree.
func TestOstreePullsFromPorthole(t *testing.T) {
	for _, algo := range []string{"rsa3072", "ed25519"} {
		t.Run(algo, func(t *testing.T) {
			home, fpr, pub := spGPGHome(t, algo)
			tree := spTree(t, 20)
			work := t.TempDir()
			repo := filepath.Join(work, "served")
			spPorthole(t, "init", "--repo="+repo, "--mode=archive")
			spPorthole(t, "commit", "--repo="+repo, "-b", "main", "-s", "first",
				"--gpg-sign="+fpr, "--gpg-homedir="+home, "--tree=dir="+tree)
			spPorthole(t, "summary", "--repo="+repo, "-u", "--gpg-sign="+fpr, "--gpg-homedir="+home)
			srv := spServe(t, repo)

			client := filepath.Join(work, "client")
			spOstree(t, "--repo="+client, "init", "--mode=bare-user")
			spOstree(t, "--repo="+client, "remote", "add", "--gpg-import="+pub, "--set=gpg-verify-summary=true", "origin", srv.URL)
			spOstree(t, "--repo="+client, "pull", "origin", "main")
			show := spOstree(t, "--repo="+client, "show", "origin:main")
			if !strings.Contains(show, "Good signature from \"Porthole Test <test@example.com>\"") {
				t.Errorf("ostree show:\n%s", show)
			}
			spOstree(t, "--repo="+client, "fsck")
			out := filepath.Join(work, "out")
			spOstree(t, "--repo="+client, "checkout", "-U", "origin:main", out)
			if got, want := spListing(t, out), spListing(t, tree); got != want {
				t.Errorf("ostree checkout differs:\n%s\nwant\n%s", got, want)
			}

			// A summary signed by another key is refused by ostree.
			other, otherFpr, _ := spGPGHome(t, "ed25519")
			spPorthole(t, "summary", "--repo="+repo, "-u", "--gpg-sign="+otherFpr, "--gpg-homedir="+other)
			client2 := filepath.Join(work, "client2")
			spOstree(t, "--repo="+client2, "init", "--mode=bare-user")
			spOstree(t, "--repo="+client2, "remote", "add", "--gpg-import="+pub, "--set=gpg-verify-summary=true", "origin", srv.URL)
			spFail(t, "ostree", "--repo="+client2, "pull", "origin", "main")
		})
	}
}

// TestPullFromOstree: a repository ostree wrote and signed (commit, extra
// commit signature, summary) is pulled by us with verification on into
// archive, bare-user and bare-user-only repos; our fsck and ostree fsck
// pass and ostree checks out the same tree from what we pulled.
func TestPullFromOstree(t *testing.T) {
	home, fpr, pub := spGPGHome(t, "rsa2048")
	tree := spTree(t, 30)
	work := t.TempDir()
	served := filepath.Join(work, "served")
	spOstree(t, "--repo="+served, "init", "--mode=archive")
	spOstree(t, "--repo="+served, "commit", "-b", "main", "-s", "one", "--tree=dir="+tree)
	spOstree(t, "--repo="+served, "commit", "-b", "main", "-s", "two", "--tree=dir="+tree+"/sub")
	spOstree(t, "--repo="+served, "gpg-sign", "--gpg-homedir="+home, "main", fpr)
	spOstree(t, "--repo="+served, "gpg-sign", "--gpg-homedir="+home, "main^", fpr)
	spOstree(t, "--repo="+served, "summary", "-u", "--gpg-sign="+fpr, "--gpg-homedir="+home)
	srv := spServe(t, served)
	for _, mode := range []string{"archive", "bare-user", "bare-user-only"} {
		t.Run(mode, func(t *testing.T) {
			local := filepath.Join(t.TempDir(), "local")
			spPorthole(t, "init", "--repo="+local, "--mode="+mode)
			out := spPorthole(t, "remote", "add", "--repo="+local, "--gpg-import="+pub, "--set=gpg-verify-summary=true", "origin", srv.URL)
			if out != "Imported 1 GPG key to remote \"origin\"\n" {
				t.Errorf("remote add printed %q", out)
			}
			spPorthole(t, "pull", "--repo="+local, "--depth=1", "origin", "main")
			spPorthole(t, "fsck", "--repo="+local)
			spOstree(t, "--repo="+local, "fsck")
			if got, want := strings.TrimSpace(spPorthole(t, "rev-parse", "--repo="+local, "origin:main")),
				strings.TrimSpace(spOstree(t, "--repo="+served, "rev-parse", "main")); got != want {
				t.Errorf("origin:main = %s, want %s", got, want)
			}
			co := filepath.Join(t.TempDir(), "co")
			args := []string{"--repo=" + local, "checkout", "origin:main^", co}
			if mode != "archive" {
				args = append(args[:2], append([]string{"-U"}, args[2:]...)...)
			}
			spOstree(t, args...)
			if got, want := spListing(t, co), spListing(t, tree); got != want {
				t.Errorf("checkout of the pulled parent differs:\n%s\nwant\n%s", got, want)
			}
		})
	}
}

// TestPullVectorRepoCLI pulls a copy of the golden archive repo verifying
// with the vectors' ostree test key.
func TestPullVectorRepoCLI(t *testing.T) {
	served := spCopyVector(t, "archive-repo")
	srv := spServe(t, served)
	key := filepath.Join(spVectors(t), "gpg", "ostree-test-pub.gpg")
	local := filepath.Join(t.TempDir(), "local")
	spPorthole(t, "init", "--repo="+local, "--mode=bare-user")
	spPorthole(t, "remote", "add", "--repo="+local, "--gpg-import="+key, "--set=gpg-verify-summary=true", "origin", srv.URL)
	spPorthole(t, "pull", "--repo="+local, "--depth=-1", "origin", "test")
	spPorthole(t, "fsck", "--repo="+local)
	spOstree(t, "--repo="+local, "fsck")
	// The xattr commit carries no signature: refused, no ref.
	msg := spFail(t, spBin(t), "store", "pull", "--repo="+local, "origin", "xattr")
	if !strings.Contains(msg, "no signatures found") {
		t.Errorf("unsigned commit: %s", msg)
	}
	if refs := spPorthole(t, "refs", "--repo="+local); strings.Contains(refs, "xattr") {
		t.Errorf("refs after refused pull: %s", refs)
	}
}
