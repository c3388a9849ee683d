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
			home, fpr, pub := gpgHome(t, algo)
			tree := sampleTree(t, 20)
			work := t.TempDir()
			repo := filepath.Join(work, "served")
			porthole(t, "init", "--repo="+repo, "--mode=archive")
			porthole(t, "commit", "--repo="+repo, "-b", "main", "-s", "first",
				"--gpg-sign="+fpr, "--gpg-homedir="+home, "--tree=dir="+tree)
			porthole(t, "summary", "--repo="+repo, "-u", "--gpg-sign="+fpr, "--gpg-homedir="+home)
			srv := serveDir(t, repo)

			client := filepath.Join(work, "client")
			ostreeCmd(t, "--repo="+client, "init", "--mode=bare-user")
			ostreeCmd(t, "--repo="+client, "remote", "add", "--gpg-import="+pub, "--set=gpg-verify-summary=true", "origin", srv.URL)
			ostreeCmd(t, "--repo="+client, "pull", "origin", "main")
			show := ostreeCmd(t, "--repo="+client, "show", "origin:main")
			if !strings.Contains(show, "Good signature from \"Porthole Test <test@example.com>\"") {
				t.Errorf("ostree show:\n%s", show)
			}
			ostreeCmd(t, "--repo="+client, "fsck")
			out := filepath.Join(work, "out")
			ostreeCmd(t, "--repo="+client, "checkout", "-U", "origin:main", out)
			if got, want := treeListing(t, out), treeListing(t, tree); got != want {
				t.Errorf("ostree checkout differs:\n%s\nwant\n%s", got, want)
			}

			// A summary signed by another key is refused by ostree.
			other, otherFpr, _ := gpgHome(t, "ed25519")
			porthole(t, "summary", "--repo="+repo, "-u", "--gpg-sign="+otherFpr, "--gpg-homedir="+other)
			client2 := filepath.Join(work, "client2")
			ostreeCmd(t, "--repo="+client2, "init", "--mode=bare-user")
			ostreeCmd(t, "--repo="+client2, "remote", "add", "--gpg-import="+pub, "--set=gpg-verify-summary=true", "origin", srv.URL)
			runFail(t, "ostree", "--repo="+client2, "pull", "origin", "main")
		})
	}
}

// TestPullFromOstree: a repository ostree wrote and signed (commit, extra
// commit signature, summary) is pulled by us with verification on into
// archive, bare-user and bare-user-only repos; our fsck and ostree fsck
// pass and ostree checks out the same tree from what we pulled.
func TestPullFromOstree(t *testing.T) {
	home, fpr, pub := gpgHome(t, "rsa2048")
	tree := sampleTree(t, 30)
	work := t.TempDir()
	served := filepath.Join(work, "served")
	ostreeCmd(t, "--repo="+served, "init", "--mode=archive")
	ostreeCmd(t, "--repo="+served, "commit", "-b", "main", "-s", "one", "--tree=dir="+tree)
	ostreeCmd(t, "--repo="+served, "commit", "-b", "main", "-s", "two", "--tree=dir="+tree+"/sub")
	ostreeCmd(t, "--repo="+served, "gpg-sign", "--gpg-homedir="+home, "main", fpr)
	ostreeCmd(t, "--repo="+served, "gpg-sign", "--gpg-homedir="+home, "main^", fpr)
	ostreeCmd(t, "--repo="+served, "summary", "-u", "--gpg-sign="+fpr, "--gpg-homedir="+home)
	srv := serveDir(t, served)
	for _, mode := range []string{"archive", "bare-user", "bare-user-only"} {
		t.Run(mode, func(t *testing.T) {
			local := filepath.Join(t.TempDir(), "local")
			porthole(t, "init", "--repo="+local, "--mode="+mode)
			out := porthole(t, "remote", "add", "--repo="+local, "--gpg-import="+pub, "--set=gpg-verify-summary=true", "origin", srv.URL)
			if out != "Imported 1 GPG key to remote \"origin\"\n" {
				t.Errorf("remote add printed %q", out)
			}
			porthole(t, "pull", "--repo="+local, "--depth=1", "origin", "main")
			porthole(t, "fsck", "--repo="+local)
			ostreeCmd(t, "--repo="+local, "fsck")
			if got, want := strings.TrimSpace(porthole(t, "rev-parse", "--repo="+local, "origin:main")),
				strings.TrimSpace(ostreeCmd(t, "--repo="+served, "rev-parse", "main")); got != want {
				t.Errorf("origin:main = %s, want %s", got, want)
			}
			co := filepath.Join(t.TempDir(), "co")
			args := []string{"--repo=" + local, "checkout", "origin:main^", co}
			if mode != "archive" {
				args = append(args[:2], append([]string{"-U"}, args[2:]...)...)
			}
			ostreeCmd(t, args...)
			if got, want := treeListing(t, co), treeListing(t, tree); got != want {
				t.Errorf("checkout of the pulled parent differs:\n%s\nwant\n%s", got, want)
			}
		})
	}
}

// TestPullVectorRepoCLI pulls a copy of the golden archive repo verifying
// with the vectors' ostree test key.
func TestPullVectorRepoCLI(t *testing.T) {
	served := copyVectorRepo(t, "archive-repo")
	srv := serveDir(t, served)
	key := filepath.Join(vectorsRoot(t), "gpg", "ostree-test-pub.gpg")
	local := filepath.Join(t.TempDir(), "local")
	porthole(t, "init", "--repo="+local, "--mode=bare-user")
	porthole(t, "remote", "add", "--repo="+local, "--gpg-import="+key, "--set=gpg-verify-summary=true", "origin", srv.URL)
	porthole(t, "pull", "--repo="+local, "--depth=-1", "origin", "test")
	porthole(t, "fsck", "--repo="+local)
	ostreeCmd(t, "--repo="+local, "fsck")
	// The xattr commit carries no signature: refused, no ref.
	msg := runFail(t, portholeBin(t), "store", "pull", "--repo="+local, "origin", "xattr")
	if !strings.Contains(msg, "no signatures found") {
		t.Errorf("unsigned commit: %s", msg)
	}
	if refs := porthole(t, "refs", "--repo="+local); strings.Contains(refs, "xattr") {
		t.Errorf("refs after refused pull: %s", refs)
	}
}
