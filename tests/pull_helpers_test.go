package tests

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/porthole-dev/porthole/internal/testenv"
)

// spBuild builds cmd/porthole once per test binary for the store tests.
var spBuild = sync.OnceValues(func() (string, error) {
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

func spBin(t testing.TB) string {
	t.Helper()
	bin, err := spBuild()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// run runs name args and fails the test on error; it returns stdout.
func spRun(t testing.TB, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstdout: %s\nstderr: %s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// runFail runs a command that must fail and returns its stderr.
func spFail(t testing.TB, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err == nil {
		t.Fatalf("%s %s succeeded, want failure\n%s", name, strings.Join(args, " "), out.String())
	}
	return out.String()
}

func spPorthole(t testing.TB, args ...string) string {
	t.Helper()
	return spRun(t, spBin(t), append([]string{"store"}, args...)...)
}

func spOstree(t testing.TB, args ...string) string {
	t.Helper()
	testenv.RequireCommand(t, "ostree")
	return spRun(t, "ostree", args...)
}

// gpgHome makes a GnuPG home (short path for the agent socket) holding an
// unprotected key made by gpg itself; it returns the home, the key's
// fingerprint and its exported public key file.
func spGPGHome(t *testing.T, algo string) (home, fpr, pub string) {
	t.Helper()
	testenv.RequireCommand(t, "gpg")
	home, err := os.MkdirTemp("", "gh")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(home, 0o700)
	t.Cleanup(func() {
		exec.Command("gpgconf", "--homedir", home, "--kill", "gpg-agent").Run()
		os.RemoveAll(home)
	})
	spRun(t, "gpg", "--batch", "--homedir", home, "--passphrase", "", "--quick-gen-key", "Porthole Test <test@example.com>", algo, "sign", "never")
	for _, line := range strings.Split(spRun(t, "gpg", "--batch", "--homedir", home, "--with-colons", "--list-keys"), "\n") {
		if f := strings.Split(line, ":"); f[0] == "fpr" {
			fpr = f[9]
			break
		}
	}
	pub = filepath.Join(t.TempDir(), "pub.gpg")
	if err := os.WriteFile(pub, []byte(spRun(t, "gpg", "--batch", "--homedir", home, "--export", fpr)), 0o644); err != nil {
		t.Fatal(err)
	}
	return home, fpr, pub
}

// sampleTree writes a small tree: files, an executable, a symlink, a subdir.
func spTree(t *testing.T, nfiles int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tree")
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "sub", "deeper"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("hello\n"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "sub", "run.sh"), []byte("#!/bin/sh\necho hi\n"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "sub", "deeper", "empty"), nil, 0o644))
	must(os.Symlink("hello.txt", filepath.Join(dir, "link")))
	for i := 0; i < nfiles; i++ {
		b := make([]byte, 64+i%700)
		rand.Read(b)
		must(os.WriteFile(filepath.Join(dir, "sub", fmt.Sprintf("f%04d", i)), b, 0o644))
	}
	return dir
}

// treeListing describes a checked-out tree: path, type, permission bits,
// content or link target.
func spListing(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %v", rel, fi.Mode())
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			fmt.Fprintf(&b, " -> %s", target)
		case fi.Mode().IsRegular():
			data, _ := os.ReadFile(p)
			fmt.Fprintf(&b, " %x", data)
		}
		b.WriteString("\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// spServer serves a directory on 127.0.0.1, counting GETs per path.
type spServer struct {
	*httptest.Server
	mu   sync.Mutex
	gets map[string]int
	hook func(w http.ResponseWriter, r *http.Request) bool
}

func spServe(t *testing.T, dir string) *spServer {
	t.Helper()
	s := &spServer{gets: map[string]int{}}
	files := http.FileServer(http.Dir(dir))
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.gets[strings.TrimPrefix(r.URL.Path, "/")]++
		hook := s.hook
		s.mu.Unlock()
		if hook != nil && hook(w, r) {
			return
		}
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *spServer) setHook(h func(w http.ResponseWriter, r *http.Request) bool) {
	s.mu.Lock()
	s.hook = h
	s.mu.Unlock()
}

func (s *spServer) snapshot() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for k, v := range s.gets {
		out[k] = v
	}
	return out
}

func (s *spServer) reset() {
	s.mu.Lock()
	s.gets = map[string]int{}
	s.mu.Unlock()
}

// vectorsRoot finds shared/vectors/ostree above the tests directory.
func spVectors(t *testing.T) string {
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

// copyVectorRepo copies a read-only vector repository to a writable place.
func spCopyVector(t *testing.T, name string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), name)
	spRun(t, "cp", "-a", filepath.Join(spVectors(t), name), dst)
	spRun(t, "chmod", "-R", "u+w", dst)
	for _, d := range []string{"refs/heads", "refs/remotes", "refs/mirrors", "tmp", "state"} {
		os.MkdirAll(filepath.Join(dst, d), 0o755)
	}
	return dst
}
