package tests

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/porthole-dev/porthole/internal/testenv"
	"github.com/porthole-dev/porthole/store"
	"github.com/porthole-dev/porthole/store/object"
	"github.com/porthole-dev/porthole/store/sign"
)

// installed returns what porthole list prints as refs.
func (w *fpWorld) installedRefs() string {
	w.t.Helper()
	return w.pt("list", "--user", "--columns=ref")
}

func (w *fpWorld) activeCommit(rel string) string {
	c, _ := os.Readlink(filepath.Join(w.ptInst, rel, "active"))
	return c
}

func TestInstallRefusesBadRepos(t *testing.T) {
	w := newFPWorld(t)
	rt := w.tinyRuntime("org.test.Platform")
	app := w.helloApp("porthole", "app", "hi")

	t.Run("unsigned summary", func(t *testing.T) {
		repo := filepath.Join(w.dir, "r-unsigned")
		w.publishPT(repo, rt, app)
		os.Remove(filepath.Join(repo, "summary.sig"))
		os.Remove(filepath.Join(repo, "summary.idx.sig"))
		sigs, _ := filepath.Glob(filepath.Join(repo, "summaries", "*.idx.sig"))
		for _, p := range sigs {
			os.Remove(p)
		}
		w.pt("remote-add", "--user", "--gpg-import="+w.pub, "unsigned", w.serve(repo))
		w.ptFail("install", "--user", "-y", "unsigned", "org.test.Hello")
	})
	t.Run("wrong key", func(t *testing.T) {
		repo := filepath.Join(w.dir, "r-wrongkey")
		w.publishPT(repo, rt, app)
		_, _, otherPub := spGPGHome(t, "rsa2048")
		w.pt("remote-add", "--user", "--gpg-import="+otherPub, "wrongkey", w.serve(repo))
		out := w.ptFail("install", "--user", "-y", "wrongkey", "org.test.Hello")
		if !strings.Contains(strings.ToLower(out), "key") && !strings.Contains(strings.ToLower(out), "signature") {
			t.Errorf("error does not mention the signature: %s", out)
		}
	})
	t.Run("unsigned commit", func(t *testing.T) {
		repo := filepath.Join(w.dir, "r-unsigned-commit")
		w.pt("build-export", "--runtime", "--no-update-summary", repo, rt, "1")
		w.pt("build-export", "--no-update-summary", repo, app, "stable")
		w.pt("build-update-repo", "--gpg-import="+w.pub, "--gpg-sign="+w.fpr, "--gpg-homedir="+w.gpgHome, repo)
		w.pt("remote-add", "--user", "--gpg-import="+w.pub, "unsignedcommit", w.serve(repo))
		w.ptFail("install", "--user", "-y", "unsignedcommit", "org.test.Hello")
	})
	t.Run("ref binding", func(t *testing.T) {
		repo := filepath.Join(w.dir, "r-binding")
		w.publishPT(repo, rt, app)
		// Serve the runtime's commit under the app's ref.
		rtCommit, _ := os.ReadFile(filepath.Join(repo, "refs/heads/runtime/org.test.Platform/x86_64/1"))
		os.WriteFile(filepath.Join(repo, "refs/heads/app/org.test.Hello/x86_64/stable"), rtCommit, 0o644)
		w.pt("build-update-repo", "--no-update-appstream", "--gpg-sign="+w.fpr, "--gpg-homedir="+w.gpgHome, repo)
		w.pt("remote-add", "--user", "--gpg-import="+w.pub, "binding", w.serve(repo))
		out := w.ptFail("install", "--user", "-y", "--no-deps", "binding", "app/org.test.Hello/x86_64/stable")
		if !strings.Contains(out, "bound") {
			t.Errorf("error does not mention the binding: %s", out)
		}
	})
	if out := w.installedRefs(); strings.Contains(out, "org.test.Hello") {
		t.Errorf("a refused app is listed:\n%s", out)
	}
}

// TestUpdateKeepsPreviousDeployment: a commit whose xa.metadata differs
// from its /metadata, a full disk and kill -9 during install and update
// leave the previous deployment active; reruns complete.
func TestUpdateKeepsPreviousDeployment(t *testing.T) {
	w := newFPWorld(t)
	repo := filepath.Join(w.dir, "repo")
	w.publishPT(repo, w.tinyRuntime("org.test.Platform"), w.helloApp("porthole", "app", "v1"))
	srv := newBlockingServer(t, repo)
	w.pt("remote-add", "--user", "--gpg-import="+w.pub, "r", srv.URL)

	// kill -9 during the first install: nothing is listed, rerun completes.
	srv.block("/objects/")
	cmd := exec.Command(w.bin, "install", "--user", "-y", "--noninteractive", "r", "org.test.Hello")
	cmd.Env = w.env()
	killAtHit(t, cmd, srv)
	if out := w.installedRefs(); strings.TrimSpace(out) != "" {
		t.Fatalf("half-installed refs listed after kill -9:\n%s", out)
	}
	w.pt("install", "--user", "-y", "--noninteractive", "r", "org.test.Hello")
	appDir := "app/org.test.Hello/x86_64/stable"
	v1 := w.activeCommit(appDir)
	if v1 == "" {
		t.Fatal("no active deployment")
	}
	checkV1 := func(what string) {
		t.Helper()
		if c := w.activeCommit(appDir); c != v1 {
			t.Fatalf("%s: active is %s, want %s", what, c, v1)
		}
		data, err := os.ReadFile(filepath.Join(w.ptInst, appDir, "active/files/bin/hello"))
		if err != nil || !strings.Contains(string(data), "v1") {
			t.Fatalf("%s: v1 files gone: %v", what, err)
		}
	}

	// xa.metadata ≠ /metadata.
	badMetadataCommit(t, w, repo)
	w.pt("build-update-repo", "--gpg-sign="+w.fpr, "--gpg-homedir="+w.gpgHome, repo)
	out := w.ptFail("update", "--user", "-y", "org.test.Hello")
	if !strings.Contains(out, "metadata") {
		t.Errorf("update error: %s", out)
	}
	checkV1("after bad metadata")

	// kill -9 during update.
	w.publishPT(repo, "", w.helloApp("porthole", "app", "v2"))
	srv.block(".filez")
	cmd = exec.Command(w.bin, "update", "--user", "-y", "--noninteractive", "org.test.Hello")
	cmd.Env = w.env()
	killAtHit(t, cmd, srv)
	checkV1("after kill -9 during update")
	w.pt("update", "--user", "-y", "--noninteractive", "org.test.Hello")
	if c := w.activeCommit(appDir); c == v1 {
		t.Fatal("rerun of update did not deploy v2")
	}
	if ents, _ := os.ReadDir(filepath.Join(w.ptInst, appDir)); len(ents) != 2 {
		t.Errorf("old deployment not removed: %v", ents)
	}
}

// badMetadataCommit commits, signed, an app tree whose /metadata differs
// from the xa.metadata in its commit.
func badMetadataCommit(t *testing.T, w *fpWorld, repoDir string) {
	t.Helper()
	ctx := context.Background()
	tree := filepath.Join(w.dir, "bad-tree")
	os.MkdirAll(filepath.Join(tree, "files", "bin"), 0o755)
	os.MkdirAll(filepath.Join(tree, "export"), 0o755)
	os.WriteFile(filepath.Join(tree, "files", "bin", "hello"), []byte("#!/bin/sh\necho bad\n"), 0o755)
	md := "[Application]\nname=org.test.Hello\nruntime=org.test.Platform/x86_64/1\ncommand=hello\n"
	os.WriteFile(filepath.Join(tree, "metadata"), []byte(md+"\n[Context]\nfilesystems=host;\n"), 0o644)
	repo, err := store.Open(ctx, repoDir)
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	signer, err := sign.LoadSigner(w.fpr, w.gpgHome)
	if err != nil {
		t.Fatal(err)
	}
	e := object.StringValue(md)
	e.Key = "xa.metadata"
	ref := "app/org.test.Hello/x86_64/stable"
	if _, err := store.Commit(ctx, repo, tree, store.CommitOptions{Branch: ref, CanonicalPermissions: true,
		Metadata: object.Metadata{e}, Signer: signer}); err != nil {
		t.Fatal(err)
	}
}

// TestInstallFullDisk: an update that does not fit fails cleanly with the
// previous deployment active; after space is freed the rerun completes.
func TestInstallFullDisk(t *testing.T) {
	testenv.RequireRoot(t)
	w := newFPWorld(t)
	os.MkdirAll(w.ptInst, 0o755)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", w.ptInst).CombinedOutput(); err != nil {
		testenv.Require(t, false, "cannot mount tmpfs: "+string(out))
	}
	t.Cleanup(func() { exec.Command("umount", "-l", w.ptInst).Run() })
	repo := filepath.Join(w.dir, "repo")
	w.publishPT(repo, w.tinyRuntime("org.test.Platform"), w.helloApp("porthole", "app", "v1"))
	w.pt("remote-add", "--user", "--gpg-import="+w.pub, "r", w.serve(repo))
	w.pt("install", "--user", "-y", "--noninteractive", "r", "org.test.Hello")
	appDir := "app/org.test.Hello/x86_64/stable"
	v1 := w.activeCommit(appDir)

	app := w.helloApp("porthole", "app", "v2")
	big := make([]byte, 12<<20)
	rand.Read(big)
	os.WriteFile(filepath.Join(app, "files", "big"), big, 0o644)
	w.publishPT(repo, "", app)
	w.ptFail("update", "--user", "-y", "--noninteractive", "org.test.Hello")
	if c := w.activeCommit(appDir); c != v1 {
		t.Fatalf("active is %q after a failed update, want %s", c, v1)
	}
	if _, err := os.ReadFile(filepath.Join(w.ptInst, appDir, "active/files/bin/hello")); err != nil {
		t.Fatalf("v1 not runnable: %v", err)
	}
	if out, err := exec.Command("mount", "-o", "remount,size=64m", w.ptInst).CombinedOutput(); err != nil {
		t.Fatalf("remount: %v %s", err, out)
	}
	w.pt("update", "--user", "-y", "--noninteractive", "org.test.Hello")
	if c := w.activeCommit(appDir); c == v1 {
		t.Fatal("rerun did not update")
	}
}

// blockingServer serves a directory and can hold requests whose path
// contains a pattern until released, telling the test when one arrived.
type blockingServer struct {
	*httptest.Server
	mu      sync.Mutex
	pattern string
	gate    chan struct{}
	hit     chan struct{}
	once    *sync.Once
}

func newBlockingServer(t *testing.T, dir string) *blockingServer {
	b := &blockingServer{hit: make(chan struct{})}
	fs := http.FileServer(http.Dir(dir))
	b.Server = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		pat, gate, once := b.pattern, b.gate, b.once
		b.mu.Unlock()
		if pat != "" && strings.Contains(r.URL.Path, pat) {
			once.Do(func() { b.hit <- struct{}{} })
			select {
			case <-gate:
			case <-r.Context().Done():
				return
			}
		}
		fs.ServeHTTP(rw, r)
	}))
	t.Cleanup(b.Close)
	return b
}

func (b *blockingServer) block(pattern string) {
	b.mu.Lock()
	b.pattern, b.gate, b.once = pattern, make(chan struct{}), new(sync.Once)
	b.mu.Unlock()
}

func (b *blockingServer) release() {
	b.mu.Lock()
	close(b.gate)
	b.pattern = ""
	b.mu.Unlock()
}

// killAtHit starts cmd, kills it with SIGKILL once the server holds one of
// its requests, and releases the server.
func killAtHit(t *testing.T, cmd *exec.Cmd, srv *blockingServer) {
	t.Helper()
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-srv.hit:
		cmd.Process.Kill()
		<-done
	case err := <-done:
		t.Fatalf("%v ended before the held request (%v):\n%s", cmd.Args, err, out.String())
	}
	srv.release()
}
