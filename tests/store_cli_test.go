package tests

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/porthole-dev/porthole/internal/testenv"
	"github.com/porthole-dev/porthole/store/storetest"
)

// storeCorePorthole builds cmd/porthole once per test binary.
var storeCorePorthole = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "porthole-store-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "porthole")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/porthole-dev/porthole/cmd/porthole").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

func storeCoreBin(t *testing.T) string {
	t.Helper()
	bin, err := storeCorePorthole()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// ph runs `porthole store ARGS…` and returns stdout; it fails the test on a
// non-zero exit.
func storeRun(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, err := storeRunErr(t, args...)
	if err != nil {
		t.Fatalf("porthole store %s: %v\n%s", strings.Join(args, " "), err, errOut)
	}
	return out
}

func storeRunErr(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(storeCoreBin(t), append([]string{"store"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

func storeRequireOstree(t *testing.T) {
	t.Helper()
	testenv.Require(t, testenv.HaveCommand("ostree"), "needs the ostree binary")
}

var storeDeterministic = []string{"--no-xattrs", "--owner-uid=0", "--owner-gid=0", "--timestamp=2020-01-01T00:00:00Z"}

// TestStoreCLIMatchesOstree drives every read verb on a repository written
// by `porthole store commit` and compares the output with ostree's on the
// same repository.
func TestStoreCLIMatchesOstree(t *testing.T) {
	storeRequireOstree(t)
	dir := t.TempDir()
	tree := storetest.MakeTree(t, filepath.Join(dir, "tree"), storetest.TreeOptions{})
	tree2 := storetest.MakeTree(t, filepath.Join(dir, "tree2"), storetest.TreeOptions{Variant: 1})
	repo := filepath.Join(dir, "repo")
	storeRun(t, "init", "--repo="+repo, "--mode=archive")
	c1 := strings.TrimSpace(storeRun(t, append([]string{"commit", "--repo=" + repo, "-b", "main", "-s", "first", "--body=line one\nline two", "--add-metadata-string=version=1.0", tree}, storeDeterministic...)...))
	c2 := strings.TrimSpace(storeRun(t, append([]string{"commit", "--repo=" + repo, "--branch=main", "--subject=second", "--tree=dir=" + tree2, "--add-metadata=answer=uint32 42"}, storeDeterministic...)...))

	// ostree makes the same commits from the same input.
	theirs := filepath.Join(dir, "theirs")
	storetest.Ostree(t, "init", "--repo="+theirs, "--mode=archive")
	o1 := storetest.Ostree(t, append([]string{"commit", "--repo=" + theirs, "-b", "main", "-s", "first", "--body=line one\nline two", "--add-metadata-string=version=1.0", "--tree=dir=" + tree}, storeDeterministic...)...)
	o2 := storetest.Ostree(t, append([]string{"commit", "--repo=" + theirs, "-b", "main", "-s", "second", "--tree=dir=" + tree2, "--add-metadata=answer=uint32 42"}, storeDeterministic...)...)
	if c1 != o1 || c2 != o2 {
		t.Fatalf("commits = %s %s, ostree made %s %s", c1, c2, o1, o2)
	}

	for _, args := range [][]string{
		{"refs"}, {"rev-parse", "main"}, {"rev-parse", "main^"}, {"rev-parse", c1[:10]},
		{"log", "main"}, {"show", "main"}, {"show", "main^"}, {"show", "--print-metadata-key=version", "main^"},
		{"ls", "main"}, {"ls", "-R", "main"}, {"ls", "-C", "main", "/a"}, {"ls", "-R", "-X", "main", "/a/b"},
		{"ls", "main", "/hello.txt", "/link"}, {"ls", "-d", "main", "/a"},
		{"cat", "main", "/hello.txt"}, {"cat", "main^", "/big.bin"},
	} {
		ours := storeRun(t, append([]string{args[0], "--repo=" + repo}, args[1:]...)...)
		want := storetest.Ostree(t, append([]string{args[0], "--repo=" + repo}, args[1:]...)...)
		if strings.TrimSpace(ours) != want {
			t.Errorf("%v:\nours:\n%s\nostree:\n%s", args, ours, want)
		}
	}

	// checkout and fsck, both tools.
	co := filepath.Join(dir, "co")
	storeRun(t, "checkout", "--repo="+repo, "-U", "main^", co)
	storetest.CompareTrees(t, tree, co, storetest.CompareOptions{})
	sub := filepath.Join(dir, "co-sub")
	storeRun(t, "checkout", "--repo="+repo, "-U", "--subpath=/a/b", "main", sub)
	storetest.CompareTrees(t, filepath.Join(tree2, "a/b"), sub, storetest.CompareOptions{PermMask: 0o777})
	storeRun(t, "fsck", "--repo="+repo)
	storetest.Ostree(t, "fsck", "--repo="+repo)
	storeRun(t, "fsck", "--repo="+theirs)
}

// TestStoreCLIHardlinkCheckout checks --require-hardlinks from a
// bare-user-only repo: checked-out files share inodes with the objects,
// and the same flag fails cleanly on an archive repo.
func TestStoreCLIHardlinkCheckout(t *testing.T) {
	dir := t.TempDir()
	tree := storetest.MakeTree(t, filepath.Join(dir, "tree"), storetest.TreeOptions{})
	repo := filepath.Join(dir, "repo")
	storeRun(t, "init", "--repo="+repo, "--mode=bare-user-only")
	storeRun(t, append([]string{"commit", "--repo=" + repo, "-b", "main", tree}, storeDeterministic...)...)
	co := filepath.Join(dir, "co")
	storeRun(t, "checkout", "--repo="+repo, "-U", "--require-hardlinks", "main", co)
	if !os.SameFile(storeMustStat(t, filepath.Join(co, "a/b/same.txt")), storeMustStat(t, filepath.Join(co, "hello.txt"))) {
		t.Errorf("identical files are not one hard-linked object")
	}
	storetest.CompareTrees(t, tree, co, storetest.CompareOptions{PermMask: 0o755})

	arch := filepath.Join(dir, "arch")
	storeRun(t, "init", "--repo="+arch, "--mode=archive")
	storeRun(t, append([]string{"commit", "--repo=" + arch, "-b", "main", tree}, storeDeterministic...)...)
	if _, errOut, err := storeRunErr(t, "checkout", "--repo="+arch, "-U", "--require-hardlinks", "main", filepath.Join(dir, "co2")); err == nil || !strings.Contains(errOut, "hard links") {
		t.Errorf("--require-hardlinks from archive: err=%v stderr=%q", err, errOut)
	}
}

func storeMustStat(t *testing.T, p string) os.FileInfo {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi
}
