package tests

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// servedPath reports whether exactly path was requested.
func (w *fpWorld) servedPath(path string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, p := range w.requests {
		if p == path {
			return true
		}
	}
	return false
}

func (w *fpWorld) resetRequests() {
	w.mu.Lock()
	w.requests = nil
	w.mu.Unlock()
}

// TestInstallReadsSummaryIndex: with a repository made by flatpak
// build-update-repo --gpg-sign, and one made by ours, install, remote-ls
// and update read summary.idx, its signature and the subsummary (a
// summary delta when the older one is cached), never the plain summary.
func TestInstallReadsSummaryIndex(t *testing.T) {
	for _, tool := range []string{"flatpak", "porthole"} {
		t.Run(tool, func(t *testing.T) {
			w := newFPWorld(t)
			repo := filepath.Join(w.dir, "repo")
			publish := w.publishPT
			if tool == "flatpak" {
				publish = w.publishFP
			}
			publish(repo, w.tinyRuntime("org.test.Platform"), w.helloApp(tool, "app", "v1"))
			url := w.serve(repo)
			w.pt("remote-add", "--user", "--gpg-import="+w.pub, "r", url)
			w.fp("--user", "remote-add", "--gpg-import="+w.pub, "r", url)
			w.fp("--user", "install", "-y", "--noninteractive", "r", "org.test.Hello")
			w.resetRequests()
			w.pt("install", "--user", "-y", "--noninteractive", "r", "org.test.Hello")
			if !w.servedPath("/summary.idx") || !w.served("/summaries/", ".gz") {
				t.Errorf("install did not read the summary index: %v", w.requests)
			}
			if !w.served("/summaries/", ".idx.sig") && !w.servedPath("/summary.idx.sig") {
				t.Errorf("install did not read the index signature: %v", w.requests)
			}
			if w.servedPath("/summary") || w.servedPath("/summary.sig") {
				t.Errorf("install read the plain summary although an index exists: %v", w.requests)
			}
			cache := filepath.Join(w.ptInst, "repo", "tmp", "cache", "summaries")
			for _, pat := range []string{"r.idx", "r.idx.sig", "r-x86_64-*.sub"} {
				if m, _ := filepath.Glob(filepath.Join(cache, pat)); len(m) != 1 {
					t.Errorf("cache %s: %v", pat, m)
				}
			}

			// An unchanged index is not verified or fetched again beyond
			// summary.idx itself.
			w.resetRequests()
			if out := w.pt("remote-ls", "--user", "r"); !strings.Contains(out, "org.test.Hello\tx86_64\tstable") {
				t.Errorf("remote-ls:\n%s", out)
			}
			if w.served(".gz") || w.served(".idx.sig") || w.servedPath("/summary") {
				t.Errorf("remote-ls refetched cached files: %v", w.requests)
			}
			// (flatpak's appstream has the app only with an AppData file.)
			if out := w.pt("search", "--user", "greets"); tool == "porthole" && !strings.Contains(out, "org.test.Hello") {
				t.Errorf("search:\n%s", out)
			}
			if w.servedPath("/summary") || w.servedPath("/summary.sig") {
				t.Errorf("search read the plain summary: %v", w.requests)
			}

			// A new version: the update reads the new index.
			publish(repo, "", w.helloApp(tool, "app", "v2"))
			w.resetRequests()
			w.pt("update", "--user", "-y", "--noninteractive", "org.test.Hello")
			data, err := os.ReadFile(filepath.Join(w.ptInst, "app/org.test.Hello/x86_64/stable/active/files/bin/hello"))
			if err != nil || !strings.Contains(string(data), "v2") {
				t.Fatalf("update did not deploy v2: %v %s", err, data)
			}
			if !w.servedPath("/summary.idx") || w.servedPath("/summary") {
				t.Errorf("update: %v", w.requests)
			}
			if !w.served(".delta") && !w.served(".gz") {
				t.Errorf("update read no subsummary: %v", w.requests)
			}
			if !w.served(".delta") || w.served(".gz") {
				t.Errorf("update did not use the summary delta: %v", w.requests)
			}
			if m, _ := filepath.Glob(filepath.Join(cache, "r-x86_64-*.sub")); len(m) != 1 {
				t.Errorf("old subsummaries not dropped: %v", m)
			}

			// Flatpak updates through the same summary delta (its appstream
			// update afterwards reads the subsummary again, as .gz).
			w.resetRequests()
			if out := w.fp("--user", "update", "-y", "--noninteractive"); strings.Contains(out, "falling back") {
				t.Errorf("flatpak could not apply the summary delta:\n%s", out)
			}
			if !w.served(".delta") {
				t.Errorf("flatpak update did not use the summary delta: %v", w.requests)
			}
			if out := w.fp("--user", "info", "org.test.Hello"); !strings.Contains(out, w.activeCommit("app/org.test.Hello/x86_64/stable")) {
				t.Errorf("flatpak did not update to our commit:\n%s", out)
			}
		})
	}
}

// TestInstallPlainSummaryFallback: a repository without summary.idx is
// read through summary + summary.sig.
func TestInstallPlainSummaryFallback(t *testing.T) {
	w := newFPWorld(t)
	repo := filepath.Join(w.dir, "repo")
	w.publishPT(repo, w.tinyRuntime("org.test.Platform"), w.helloApp("porthole", "app", "v1"))
	w.pt("build-update-repo", "--no-summary-index", "--gpg-sign="+w.fpr, "--gpg-homedir="+w.gpgHome, repo)
	os.Remove(filepath.Join(repo, "summary.idx"))
	os.Remove(filepath.Join(repo, "summary.idx.sig"))
	os.RemoveAll(filepath.Join(repo, "summaries"))
	w.pt("remote-add", "--user", "--gpg-import="+w.pub, "r", w.serve(repo))
	w.pt("install", "--user", "-y", "--noninteractive", "r", "org.test.Hello")
	if !w.servedPath("/summary") || !w.servedPath("/summary.sig") {
		t.Errorf("plain summary not read: %v", w.requests)
	}
}

// TestInstallRefusesBadSummaryIndex: a summary.idx signed by another key
// and a subsummary whose digest does not match the index are refused even
// though the plain summary is fine; nothing is installed.
func TestInstallRefusesBadSummaryIndex(t *testing.T) {
	w := newFPWorld(t)
	rt := w.tinyRuntime("org.test.Platform")
	app := w.helloApp("porthole", "app", "hi")

	t.Run("bad idx.sig", func(t *testing.T) {
		repo := filepath.Join(w.dir, "r-badsig")
		w.publishPT(repo, rt, app)
		otherHome, otherFpr, _ := spGPGHome(t, "rsa2048")
		other := filepath.Join(w.dir, "r-other")
		w.pt("build-export", "--runtime", "--no-update-summary", other, rt, "1")
		w.pt("build-update-repo", "--gpg-sign="+otherFpr, "--gpg-homedir="+otherHome, other)
		badSig, err := os.ReadFile(filepath.Join(other, "summary.idx.sig"))
		if err != nil {
			t.Fatal(err)
		}
		sigs, _ := filepath.Glob(filepath.Join(repo, "summaries", "*.idx.sig"))
		for _, p := range append(sigs, filepath.Join(repo, "summary.idx.sig")) {
			os.WriteFile(p, badSig, 0o644)
		}
		w.pt("remote-add", "--user", "--gpg-import="+w.pub, "badsig", w.serve(repo))
		out := w.ptFail("install", "--user", "-y", "badsig", "org.test.Hello")
		if !strings.Contains(out, "summary index") {
			t.Errorf("error does not name the index: %s", out)
		}
		w.ptFail("remote-ls", "--user", "badsig")
	})
	t.Run("subsummary digest", func(t *testing.T) {
		repo := filepath.Join(w.dir, "r-digest")
		w.publishPT(repo, rt, app)
		gzs, _ := filepath.Glob(filepath.Join(repo, "summaries", "*.gz"))
		if len(gzs) == 0 {
			t.Fatal("no subsummary")
		}
		plain, _ := os.ReadFile(filepath.Join(repo, "summary"))
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(plain)
		zw.Close()
		for _, p := range gzs {
			os.WriteFile(p, buf.Bytes(), 0o644)
		}
		w.pt("remote-add", "--user", "--gpg-import="+w.pub, "digest", w.serve(repo))
		out := w.ptFail("install", "--user", "-y", "digest", "org.test.Hello")
		if !strings.Contains(out, "digest") {
			t.Errorf("error does not mention the digest: %s", out)
		}
	})
	if out := w.installedRefs(); strings.TrimSpace(out) != "" {
		t.Errorf("refused refs listed:\n%s", out)
	}
}
