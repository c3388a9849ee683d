package pull

import (
	"context"
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
)

func vectorsDir(t testing.TB) string {
	t.Helper()
	dir, _ := os.Getwd()
	for {
		cand := filepath.Join(dir, "shared", "vectors", "ostree")
		if _, err := os.Stat(filepath.Join(cand, "README.md")); err == nil {
			return cand
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	testenv.Require(t, false, "golden vectors shared/vectors/ostree not found")
	return ""
}

// copyRepo copies a (read-only) vector repo to a writable place.
func copyRepo(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "served")
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	exec.Command("chmod", "-R", "u+w", dst).Run()
	for _, d := range []string{"refs/heads", "refs/remotes", "refs/mirrors", "tmp", "state"} {
		os.MkdirAll(filepath.Join(dst, d), 0o755)
	}
	return dst
}

// server serves a directory over HTTP on 127.0.0.1 and counts GETs.
type server struct {
	*httptest.Server
	mu   sync.Mutex
	gets map[string]int
	// hook, when set, may handle a request itself (return true).
	hook func(w http.ResponseWriter, r *http.Request) bool
}

func serve(t testing.TB, dir string) *server { return serveWith(t, dir, nil) }

// serveWith is serve with a chance to configure the server before it starts.
func serveWith(t testing.TB, dir string, configure func(*http.Server)) *server {
	t.Helper()
	s := &server{gets: map[string]int{}}
	fs := http.FileServer(http.Dir(dir))
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.gets[strings.TrimPrefix(r.URL.Path, "/")]++
		hook := s.hook
		s.mu.Unlock()
		if hook != nil && hook(w, r) {
			return
		}
		fs.ServeHTTP(w, r)
	}))
	if configure != nil {
		configure(s.Config)
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func (s *server) count(prefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for p, c := range s.gets {
		if strings.HasPrefix(p, prefix) {
			n += c
		}
	}
	return n
}

func (s *server) setHook(h func(w http.ResponseWriter, r *http.Request) bool) {
	s.mu.Lock()
	s.hook = h
	s.mu.Unlock()
}

func (s *server) reset() {
	s.mu.Lock()
	s.gets = map[string]int{}
	s.mu.Unlock()
}

func initRepo(t *testing.T, mode store.Mode) *store.Repo {
	t.Helper()
	r, err := store.Init(context.Background(), filepath.Join(t.TempDir(), "local"), mode)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func ostreeFsck(t *testing.T, repoDir string) {
	t.Helper()
	testenv.RequireCommand(t, "ostree")
	if out, err := exec.Command("ostree", "--repo="+repoDir, "fsck").CombinedOutput(); err != nil {
		t.Errorf("ostree fsck: %v\n%s", err, out)
	}
}

func ourFsck(t *testing.T, r *store.Repo) {
	t.Helper()
	res, err := store.Fsck(context.Background(), r, store.FsckOptions{})
	if err != nil || !res.OK() {
		t.Errorf("Fsck = %+v, %v", res, err)
	}
}
