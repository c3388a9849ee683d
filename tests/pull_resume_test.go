package tests

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// looseObjects lists objects/XX/*.SUFFIX in a repo as served paths
// ("objects/xx/….filez" for content, whatever the local mode).
func spLooseObjects(t *testing.T, repo string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	dirs, _ := filepath.Glob(filepath.Join(repo, "objects", "*"))
	for _, d := range dirs {
		ents, _ := os.ReadDir(d)
		for _, e := range ents {
			name := e.Name()
			if strings.HasSuffix(name, ".file") {
				name += "z"
			}
			out["objects/"+filepath.Base(d)+"/"+name] = true
		}
	}
	return out
}

// TestPullKill9Resume kills `porthole store pull` with SIGKILL in the middle
// of a slow transfer, reruns it, and checks it completes without fetching
// any object that was already stored, and that both fscks pass.
func TestPullKill9Resume(t *testing.T) {
	home, fpr, pub := spGPGHome(t, "ed25519")
	tree := spTree(t, 600)
	work := t.TempDir()
	served := filepath.Join(work, "served")
	spOstree(t, "--repo="+served, "init", "--mode=archive")
	spOstree(t, "--repo="+served, "commit", "-b", "main", "--tree=dir="+tree)
	spOstree(t, "--repo="+served, "gpg-sign", "--gpg-homedir="+home, "main", fpr)
	spOstree(t, "--repo="+served, "summary", "-u", "--gpg-sign="+fpr, "--gpg-homedir="+home)
	srv := spServe(t, served)
	release := make(chan struct{})
	srv.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, ".filez") {
			select { // slow content while the first pull runs
			case <-release:
			case <-time.After(150 * time.Millisecond):
			}
		}
		return false
	})

	local := filepath.Join(work, "local")
	spPorthole(t, "init", "--repo="+local, "--mode=bare-user")
	spPorthole(t, "remote", "add", "--repo="+local, "--gpg-import="+pub, "--set=gpg-verify-summary=true", "origin", srv.URL)

	cmd := exec.Command(spBin(t), "store", "pull", "--repo="+local, "origin", "main")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until content objects have been flushed into objects/, then kill.
	var stored map[string]bool
	for deadline := time.Now().Add(60 * time.Second); ; {
		stored = spLooseObjects(t, local)
		n := 0
		for p := range stored {
			if strings.HasSuffix(p, ".filez") {
				n++
			}
		}
		if n >= 10 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no content flushed in time; output: %s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	err := cmd.Wait()
	close(release)
	if err == nil {
		t.Fatalf("pull finished before it was killed: %s", out.String())
	}
	stored = spLooseObjects(t, local) // what survived the kill
	if refs := spPorthole(t, "refs", "--repo="+local); strings.TrimSpace(refs) != "" {
		t.Errorf("refs moved by a killed pull: %q", refs)
	}
	spPorthole(t, "fsck", "--repo="+local) // a partial commit is not an error

	srv.reset()
	spPorthole(t, "pull", "--repo="+local, "origin", "main")
	for p, n := range srv.snapshot() {
		if stored[p] && !strings.HasSuffix(p, ".commitmeta") {
			t.Errorf("rerun fetched stored object %s (%d times)", p, n)
		}
	}
	spPorthole(t, "fsck", "--repo="+local)
	spOstree(t, "--repo="+local, "fsck")
	if partial, _ := filepath.Glob(filepath.Join(local, "state", "*.commitpartial")); len(partial) != 0 {
		t.Errorf("partial markers left: %v", partial)
	}
	got := strings.TrimSpace(spPorthole(t, "rev-parse", "--repo="+local, "origin:main"))
	want := strings.TrimSpace(spOstree(t, "--repo="+served, "rev-parse", "main"))
	if got != want {
		t.Errorf("origin:main = %s, want %s", got, want)
	}
}
