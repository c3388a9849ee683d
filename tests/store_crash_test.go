package tests

import (
	"bytes"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/porthole-dev/porthole/store/storetest"
)

// bigTree writes n files of size bytes (varied, partly compressible).
func storeBigTree(t *testing.T, dir string, n, size int, seed int64) string {
	t.Helper()
	rng := rand.New(rand.NewSource(seed))
	buf := make([]byte, size)
	for i := 0; i < n; i++ {
		rng.Read(buf[:size/2])
		copy(buf[size/2:], bytes.Repeat([]byte{byte(i)}, size/2))
		p := filepath.Join(dir, fmt.Sprintf("d%02d", i%37), fmt.Sprintf("f%05d", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// countFiles counts regular files and symlinks below dir.
func storeCountFiles(dir string) int {
	n := 0
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return nil
	})
	return n
}

// killWhen starts porthole store ARGS and SIGKILLs it as soon as cond
// holds (or lets it finish). It reports whether the kill happened before
// the process exited by itself.
func storeKillWhen(t *testing.T, cond func() bool, args ...string) bool {
	t.Helper()
	cmd := exec.Command(storeCoreBin(t), append([]string{"store"}, args...)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return false
		default:
		}
		if cond() {
			cmd.Process.Signal(syscall.SIGKILL)
			<-done
			return true
		}
		time.Sleep(time.Millisecond)
	}
	cmd.Process.Kill()
	<-done
	t.Fatalf("porthole store %v: condition never held", args)
	return false
}

func storeFsckBoth(t *testing.T, repo string) {
	t.Helper()
	storeRun(t, "fsck", "--repo="+repo)
	storetest.Ostree(t, "fsck", "--repo="+repo)
}

func storeStagedFiles(repo string) int {
	dirs, _ := filepath.Glob(filepath.Join(repo, "tmp", "staging-*"))
	n := 0
	for _, d := range dirs {
		filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
			if err == nil && !e.IsDir() {
				n++
			}
			return nil
		})
	}
	return n
}

// TestStoreKillCommit kills `porthole store commit` at several points
// (while staging, later while staging, during the final renames); after
// each kill both fscks pass and no ref moved; the rerun completes with the
// commit ostree makes from the same tree.
func TestStoreKillCommit(t *testing.T) {
	storeRequireOstree(t)
	dir := t.TempDir()
	tree := storeBigTree(t, filepath.Join(dir, "tree"), 900, 16<<10, 1)
	repo := filepath.Join(dir, "repo")
	storeRun(t, "init", "--repo="+repo, "--mode=archive")
	args := append([]string{"commit", "--repo=" + repo, "-b", "main", "--no-bindings", tree}, storeDeterministic...)
	objects := filepath.Join(repo, "objects")
	points := []struct {
		name string
		cond func() bool
	}{
		{"early staging", func() bool { return storeStagedFiles(repo) >= 20 }},
		{"late staging", func() bool { return storeStagedFiles(repo) >= 600 }},
		{"renaming", func() bool { ents, _ := os.ReadDir(objects); return len(ents) > 0 }},
	}
	for _, p := range points {
		killed := storeKillWhen(t, p.cond, args...)
		t.Logf("%s: killed=%v, %d objects in place, %d staged", p.name, killed, storeCountFiles(objects), storeStagedFiles(repo))
		storeFsckBoth(t, repo)
		if _, _, err := storeRunErr(t, "rev-parse", "--repo="+repo, "main"); killed && err == nil {
			// The ref is written last; it may exist only if the kill came
			// after the commit finished its flush.
			t.Logf("%s: ref exists after kill", p.name)
		}
		if p.name == "renaming" {
			break
		}
		// Start over from an empty object store for the next kill point.
		os.RemoveAll(repo)
		storeRun(t, "init", "--repo="+repo, "--mode=archive")
	}
	got := strings.TrimSpace(storeRun(t, args...))
	storeFsckBoth(t, repo)
	// The successful writer removed the dead writers' staging directories.
	if n := storeStagedFiles(repo); n != 0 {
		t.Errorf("%d staged files left after a successful commit", n)
	}
	theirs := filepath.Join(dir, "theirs")
	storetest.Ostree(t, "init", "--repo="+theirs, "--mode=archive")
	want := storetest.Ostree(t, append([]string{"commit", "--repo=" + theirs, "-b", "main", "--no-bindings", "--tree=dir=" + tree}, storeDeterministic...)...)
	if got != want {
		t.Errorf("commit after kills = %s, ostree made %s", got, want)
	}
}

// TestStoreKillPrune kills `porthole store prune` once it has deleted some
// objects; fsck passes and the rerun removes the rest.
func TestStoreKillPrune(t *testing.T) {
	storeRequireOstree(t)
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	storeRun(t, "init", "--repo="+repo, "--mode=bare-user-only")
	small := storetest.MakeTree(t, filepath.Join(dir, "small"), storetest.TreeOptions{})
	storeRun(t, append([]string{"commit", "--repo=" + repo, "-b", "main", small}, storeDeterministic...)...)
	for i := 0; i < 2; i++ {
		big := storeBigTree(t, filepath.Join(dir, fmt.Sprint("big", i)), 1200, 512, int64(10+i))
		storeRun(t, "commit", "--repo="+repo, "-b", "old", "--timestamp=2020-01-0"+fmt.Sprint(i+2)+"T00:00:00Z", "--no-xattrs", big)
	}
	storeRun(t, "refs", "--repo="+repo, "--delete", "old")
	before := storeCountFiles(filepath.Join(repo, "objects"))
	killed := storeKillWhen(t, func() bool { return storeCountFiles(filepath.Join(repo, "objects")) < before-100 }, "prune", "--repo="+repo, "--refs-only")
	t.Logf("killed=%v: %d of %d objects left", killed, storeCountFiles(filepath.Join(repo, "objects")), before)
	storeFsckBoth(t, repo)
	storeRun(t, "prune", "--repo="+repo, "--refs-only")
	storeFsckBoth(t, repo)
	theirs := filepath.Join(dir, "theirs")
	storetest.Ostree(t, "init", "--repo="+theirs, "--mode=bare-user-only")
	storetest.Ostree(t, append([]string{"commit", "--repo=" + theirs, "-b", "main", "--tree=dir=" + small}, storeDeterministic...)...)
	if got, want := storetest.ObjectSet(t, repo), storetest.ObjectSet(t, theirs); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("after prune: %d objects, a fresh repo with only main has %d", len(got), len(want))
	}
}

// TestStoreConcurrentCLICommits runs two committing processes on one
// repository at once.
func TestStoreConcurrentCLICommits(t *testing.T) {
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	storeRun(t, "init", "--repo="+repo, "--mode=archive")
	var cmds []*exec.Cmd
	var outs []*bytes.Buffer
	for i := 0; i < 2; i++ {
		tree := storeBigTree(t, filepath.Join(dir, fmt.Sprint("t", i)), 400, 8<<10, 100) // same content: both writers race on the same objects
		storetest.MakeTree(t, filepath.Join(tree, "sample"), storetest.TreeOptions{Variant: i})
		cmd := exec.Command(storeCoreBin(t), "store", "commit", "--repo="+repo, "-b", fmt.Sprint("b", i), tree)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, outs = append(cmds, cmd), append(outs, &out)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("writer %d: %v\n%s", i, err, outs[i])
		}
	}
	refs := storeRun(t, "refs", "--repo="+repo)
	if refs != "b0\nb1\n" {
		t.Errorf("refs = %q", refs)
	}
	storeRun(t, "fsck", "--repo="+repo)
}
