package installation

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/porthole-dev/porthole/internal/testenv"
	"github.com/porthole-dev/porthole/store/summary"
)

// flatpakRepoVector is the repository flatpak build-update-repo made in
// the golden vectors.
func flatpakRepoVector(t testing.TB) string {
	t.Helper()
	dir, _ := os.Getwd()
	for {
		cand := filepath.Join(dir, "shared", "vectors", "ostree", "flatpak", "repo")
		if _, err := os.Stat(filepath.Join(cand, "summary.idx")); err == nil {
			return cand
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	testenv.Require(t, false, "golden vectors shared/vectors/ostree/flatpak not found")
	return ""
}

func TestSummaryIndexVector(t *testing.T) {
	repo := flatpakRepoVector(t)
	data, err := os.ReadFile(filepath.Join(repo, IndexFile))
	if err != nil {
		t.Fatal(err)
	}
	ix, err := parseIndex(data)
	if err != nil {
		t.Fatal(err)
	}
	s, ok := ix.subs["x86_64"]
	if !ok {
		t.Fatalf("no x86_64 subsummary: %v", ix.subs)
	}
	gz, err := os.ReadFile(filepath.Join(repo, SummariesDir, hex.EncodeToString(s.digest[:])+".gz"))
	if err != nil {
		t.Fatal(err)
	}
	sub, err := gunzip(gz)
	if err != nil || sha256.Sum256(sub) != s.digest {
		t.Fatalf("subsummary does not match its digest (%v)", err)
	}
	sm, err := summary.Parse(sub)
	if err != nil {
		t.Fatal(err)
	}
	refs := refsOf(sm)
	found := false
	for n, r := range refs {
		if strings.HasPrefix(n, "app/") {
			found = true
			if r.Metadata == "" || r.InstalledSize == 0 {
				t.Errorf("%s: xa.data not read: %+v", n, r)
			}
		}
	}
	if !found {
		t.Errorf("no app in %v", refs)
	}
}

func TestApplySummaryDiffVectors(t *testing.T) {
	dir := filepath.Join(flatpakRepoVector(t), SummariesDir)
	deltas, _ := filepath.Glob(filepath.Join(dir, "*.delta"))
	if len(deltas) == 0 {
		t.Fatal("no deltas in the vectors")
	}
	for _, p := range deltas {
		from, to, _ := strings.Cut(strings.TrimSuffix(filepath.Base(p), ".delta"), "-")
		oldGz, err := os.ReadFile(filepath.Join(dir, from+".gz"))
		if err != nil {
			t.Fatal(err)
		}
		old, err := gunzip(oldGz)
		if err != nil {
			t.Fatal(err)
		}
		delta, _ := os.ReadFile(p)
		got, err := ApplySummaryDiff(old, delta)
		if err != nil {
			t.Fatalf("%s: %v", filepath.Base(p), err)
		}
		if d := sha256.Sum256(got); hex.EncodeToString(d[:]) != to {
			t.Errorf("%s: result has digest %x", filepath.Base(p), d)
		}
		if _, err := ApplySummaryDiff(old[:len(old)/2], delta); err == nil {
			t.Errorf("%s: applied to a truncated base", filepath.Base(p))
		}
	}
}

func FuzzApplySummaryDiff(f *testing.F) {
	dir := filepath.Join(flatpakRepoVector(f), SummariesDir)
	deltas, _ := filepath.Glob(filepath.Join(dir, "*.delta"))
	for _, p := range deltas {
		from, _, _ := strings.Cut(filepath.Base(p), "-")
		oldGz, _ := os.ReadFile(filepath.Join(dir, from+".gz"))
		old, _ := gunzip(oldGz)
		delta, _ := os.ReadFile(p)
		f.Add(old, delta)
	}
	f.Fuzz(func(t *testing.T, old, delta []byte) {
		ApplySummaryDiff(old, delta)
	})
}

func FuzzParseIndex(f *testing.F) {
	data, _ := os.ReadFile(filepath.Join(flatpakRepoVector(f), IndexFile))
	f.Add(data)
	f.Fuzz(func(t *testing.T, data []byte) {
		parseIndex(data)
	})
}
