package pull

import (
	"context"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/porthole-dev/porthole/store"
	"github.com/porthole-dev/porthole/store/object"
)

func TestHTTPFetcherStatusAndRetries(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/flaky":
			if calls.Add(1) < 3 {
				http.Error(w, "busy", http.StatusServiceUnavailable)
				return
			}
			io.WriteString(w, "ok")
		case "/forbidden":
			http.Error(w, "no", http.StatusForbidden)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	f := NewHTTPFetcher(srv.URL)
	ctx := context.Background()
	rc, err := f.Fetch(ctx, "flaky")
	if err != nil {
		t.Fatalf("Fetch(flaky) = %v", err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "ok" || calls.Load() != 3 {
		t.Errorf("Fetch(flaky) = %q after %d calls", b, calls.Load())
	}
	if _, err := f.Fetch(ctx, "missing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Fetch(missing) = %v, want ErrNotFound", err)
	}
	if _, err := f.Fetch(ctx, "forbidden"); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("Fetch(forbidden) = %v", err)
	}
	if _, err := NewFileFetcher(t.TempDir()).Fetch(ctx, "summary"); !errors.Is(err, ErrNotFound) {
		t.Errorf("FileFetcher missing = %v", err)
	}
	if _, err := NewFetcher("ftp://x/"); err == nil {
		t.Error("NewFetcher(ftp) = nil error")
	}
}

// TestPullKeepAlive checks that a pull reuses connections: no more new
// connections than objects in flight.
func TestPullKeepAlive(t *testing.T) {
	served := copyRepo(t, filepath.Join(vectorsDir(t), "archive-repo"))
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	srv := serveWith(t, served, func(hs *http.Server) {
		hs.ConnState = func(c net.Conn, s http.ConnState) {
			if s == http.StateNew {
				mu.Lock()
				conns[c] = true
				mu.Unlock()
			}
		}
	})
	r := initRepo(t, store.ModeArchive)
	addVectorRemote(t, r, srv.URL)
	const workers = 2
	if _, err := Pull(context.Background(), r, "origin", []string{"test"}, Options{Depth: -1, Workers: workers}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if total := srv.count(""); len(conns) > workers+1 || total < 10 {
		t.Errorf("%d connections for %d requests, want at most %d", len(conns), total, workers+1)
	}
}

type fakeDeltas struct {
	mu    sync.Mutex
	calls []string
}

func (f *fakeDeltas) PullDelta(ctx context.Context, repo *store.Repo, fetch Fetcher, from *object.Checksum, to object.Checksum) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := "scratch"
	if from != nil {
		s = from.String()
	}
	f.calls = append(f.calls, s+"->"+to.String())
	return false, nil
}

func TestDeltaSeam(t *testing.T) {
	served := copyRepo(t, filepath.Join(vectorsDir(t), "archive-repo"))
	r := initRepo(t, store.ModeArchive)
	addVectorRemote(t, r, serve(t, served).URL)
	d := &fakeDeltas{}
	if _, err := Pull(context.Background(), r, "origin", []string{"test"}, Options{Deltas: d}); err != nil {
		t.Fatal(err)
	}
	if len(d.calls) != 1 || d.calls[0] != "scratch->"+commitB {
		t.Errorf("delta calls = %v", d.calls)
	}
	ourFsck(t, r)
}

// TestPullHTTPS pulls over https from a server whose certificate is
// trusted through the remote's tls-ca-path.
func TestPullHTTPS(t *testing.T) {
	served := copyRepo(t, filepath.Join(vectorsDir(t), "archive-repo"))
	srv := httptest.NewTLSServer(http.FileServer(http.Dir(served)))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644)
	r := initRepo(t, store.ModeArchive)
	addVectorRemote(t, r, srv.URL)
	if _, err := Pull(context.Background(), r, "origin", []string{"test"}, Options{}); err == nil {
		t.Error("pull from an untrusted certificate succeeded")
	}
	r.UpdateConfig(func(cfg *store.Config) error {
		cfg.SetValue(`remote "origin"`, "tls-ca-path", ca)
		return nil
	})
	if _, err := Pull(context.Background(), r, "origin", []string{"test"}, Options{}); err != nil {
		t.Fatalf("Pull over https = %v", err)
	}
	ourFsck(t, r)
}
