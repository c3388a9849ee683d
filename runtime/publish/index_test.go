package publish

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/porthole-dev/porthole/runtime/installation"
	"github.com/porthole-dev/porthole/store/summary"
)

func gunzipFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestIndexSubsetsDeltasEOL: a ref exported into a subset appears in the
// SUBSET-ARCH subsummary; its end-of-life reason is in xa.sparse-cache;
// a second update writes summary deltas that turn each old subsummary
// into the new one.
func TestIndexSubsetsDeltasEOL(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	app := filepath.Join(dir, "app")
	if err := BuildInit(app, "org.test.Hello", "org.test.Platform", "org.test.Platform", "1", InitOptions{Arch: "x86_64"}); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(app, "files", "bin", "hello"), "#!/bin/sh\necho v1\n", 0o755)
	if err := Finish(app, FinishOptions{}); err != nil {
		t.Fatal(err)
	}
	repoDir := filepath.Join(dir, "repo")
	export := func() {
		t.Helper()
		if _, err := Export(ctx, repoDir, app, ExportOptions{Branch: "stable", Arch: "x86_64", Subsets: []string{"one", "", "one"}, EndOfLife: "gone"}); err != nil {
			t.Fatal(err)
		}
		if err := UpdateRepo(ctx, repoDir, UpdateOptions{NoAppstream: true}); err != nil {
			t.Fatal(err)
		}
	}
	export()
	idxData, _ := os.ReadFile(filepath.Join(repoDir, IndexFile))
	ix, err := ParseIndex(idxData)
	if err != nil {
		t.Fatal(err)
	}
	old := map[string]string{}
	for _, name := range []string{"x86_64", "one-x86_64"} {
		d, ok := ix.Subsummaries[name]
		if !ok {
			t.Fatalf("no subsummary %s: %v", name, ix.Subsummaries)
		}
		old[name] = hex.EncodeToString(d)
		s, err := summary.Parse(gunzipFile(t, filepath.Join(repoDir, SummariesDir, old[name]+".gz")))
		if err != nil || len(s.Refs) != 1 || s.Refs[0].Name != "app/org.test.Hello/x86_64/stable" {
			t.Fatalf("%s: %v %+v", name, err, s)
		}
		if v, ok := s.Refs[0].Lookup("eol"); !ok || v.Str() != "gone" {
			t.Errorf("%s: no eol in the ref's metadata", name)
		}
	}
	plain, _ := os.ReadFile(filepath.Join(repoDir, "summary"))
	s, err := summary.Parse(plain)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := s.Lookup(KeySparseCache); !ok || v.Type().String() != "a{sa{sv}}" || v.Len() != 1 {
		t.Errorf("xa.sparse-cache: %v", v)
	}

	write(t, filepath.Join(app, "files", "bin", "hello"), "#!/bin/sh\necho v2\n", 0o755)
	export()
	idxData, _ = os.ReadFile(filepath.Join(repoDir, IndexFile))
	if ix, err = ParseIndex(idxData); err != nil {
		t.Fatal(err)
	}
	for name, from := range old {
		to := hex.EncodeToString(ix.Subsummaries[name])
		delta, err := os.ReadFile(filepath.Join(repoDir, SummariesDir, from+"-"+to+".delta"))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := installation.ApplySummaryDiff(gunzipFile(t, filepath.Join(repoDir, SummariesDir, from+".gz")), delta)
		if err != nil {
			t.Fatal(err)
		}
		if d := sha256.Sum256(got); hex.EncodeToString(d[:]) != to {
			t.Errorf("%s: delta gives digest %x, want %s", name, d, to)
		}
	}
}
