package tests

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestPullBareUserOnlyMatchesOstree compares `porthole store pull` and
// `ostree pull` into bare-user-only repositories from an archive repo
// that ostree wrote: content with a setuid, setgid, sticky or
// world-writable regular file is refused by both, with the same message
// naming the object, and no ref moves; content with a non-zero owner or
// xattrs is accepted by both and then named by both tools' fsck.
// Committing such a tree into bare-user-only succeeds with canonical
// permissions applied, same checksum as ostree.
func TestPullBareUserOnlyMatchesOstree(t *testing.T) {
	base := t.TempDir()
	src := filepath.Join(base, "src")
	spOstree(t, "init", "--repo="+src, "--mode=archive")
	commit := func(branch string, perm os.FileMode, xattr bool, extra ...string) string {
		tree := filepath.Join(base, "tree-"+branch)
		os.MkdirAll(tree, 0o755)
		p := filepath.Join(tree, "file")
		os.WriteFile(p, []byte(branch+"\n"), 0o644)
		if err := os.Chmod(p, perm); err != nil {
			t.Fatal(err)
		}
		os.Symlink("file", filepath.Join(tree, "link"))
		if xattr {
			spRun(t, "setfattr", "-n", "user.foo", "-v", "bar", p)
		}
		args := append([]string{"commit", "--repo=" + src, "-b", branch, "--timestamp=2020-01-01T00:00:00Z", "--no-bindings", "-s", "s", "--tree=dir=" + tree}, extra...)
		spOstree(t, args...)
		return tree
	}
	refused := map[string]string{
		"setuid": "invalid mode 0104755 with bits 04000",
		"setgid": "invalid mode 0102755 with bits 02000",
		"sticky": "invalid mode 0101755 with bits 01000",
		"ow":     "invalid mode 0100666 with bits 00002",
	}
	trees := map[string]string{
		"setuid": commit("setuid", 0o4755|os.ModeSetuid, false),
		"setgid": commit("setgid", 0o755|os.ModeSetgid, false),
		"sticky": commit("sticky", 0o755|os.ModeSticky, false),
		"ow":     commit("ow", 0o666, false),
	}
	commit("owner", 0o644, false, "--owner-uid=5")
	commit("xattr", 0o644, true)

	object := regexp.MustCompile(`[0-9a-f]{64}`)
	for _, branch := range []string{"setuid", "setgid", "sticky", "ow", "owner", "xattr"} {
		t.Run(branch, func(t *testing.T) {
			ours := filepath.Join(t.TempDir(), "ours")
			theirs := filepath.Join(t.TempDir(), "theirs")
			spPorthole(t, "init", "--repo="+ours, "--mode=bare-user-only")
			spPorthole(t, "remote", "add", "--repo="+ours, "--no-gpg-verify", "o", "file://"+src)
			spOstree(t, "init", "--repo="+theirs, "--mode=bare-user-only")
			spOstree(t, "remote", "add", "--repo="+theirs, "--no-gpg-verify", "o", "file://"+src)
			if want, ok := refused[branch]; ok {
				ourMsg := spFail(t, spBin(t), "store", "pull", "--repo="+ours, "o", branch)
				theirMsg := spFail(t, "ostree", "pull", "--repo="+theirs, "o", branch)
				if !strings.Contains(theirMsg, want) {
					t.Fatalf("ostree says %q, test expects %q", theirMsg, want)
				}
				if !strings.Contains(ourMsg, want) || object.FindString(ourMsg) != object.FindString(theirMsg) {
					t.Errorf("porthole says %q, ostree %q", ourMsg, theirMsg)
				}
				if refs := spPorthole(t, "refs", "--repo="+ours); strings.TrimSpace(refs) != "" {
					t.Errorf("refs moved: %q", refs)
				}
				spPorthole(t, "fsck", "--repo="+ours)
				spOstree(t, "fsck", "--repo="+ours)

				// Commit: canonical permissions, as ostree does.
				args := []string{"-b", "c", "--timestamp=2020-01-01T00:00:00Z", "--no-bindings", "-s", "s", "--tree=dir=" + trees[branch]}
				a := spPorthole(t, append([]string{"commit", "--repo=" + ours}, args...)...)
				b := spOstree(t, append([]string{"commit", "--repo=" + theirs}, args...)...)
				if strings.TrimSpace(a) != strings.TrimSpace(b) {
					t.Errorf("commit: porthole %s, ostree %s", a, b)
				}
				if ls := spPorthole(t, "ls", "--repo="+ours, "c", "/file"); !strings.Contains(ls, "-00755") && !strings.Contains(ls, "-00644") {
					t.Errorf("committed mode: %s", ls)
				}
				return
			}
			spPorthole(t, "pull", "--repo="+ours, "o", branch)
			spOstree(t, "pull", "--repo="+theirs, "o", branch)
			ourMsg := spFail(t, spBin(t), "store", "fsck", "--repo="+ours)
			theirMsg := spFail(t, "ostree", "fsck", "--repo="+theirs)
			named := regexp.MustCompile(`content object ([0-9a-f]{64})`).FindStringSubmatch(theirMsg)
			if named == nil || !strings.Contains(ourMsg, "corrupted object "+named[1]) {
				t.Errorf("fsck: porthole says %q, ostree %q", ourMsg, theirMsg)
			}
		})
	}
}
