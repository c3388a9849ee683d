package summary

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/porthole-dev/porthole/internal/gvariant"
	"github.com/porthole-dev/porthole/internal/testenv"
	"github.com/porthole-dev/porthole/store"
	"github.com/porthole-dev/porthole/store/sign"
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

// copyTree copies a vector repo so tools can write tmp/ and .lock in it.
func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	exec.Command("chmod", "-R", "u+w", dst).Run()
	for _, d := range []string{"refs/heads", "refs/remotes", "refs/mirrors", "tmp", "state"} {
		os.MkdirAll(filepath.Join(dst, d), 0o755)
	}
	return dst
}

func ostree(t *testing.T, args ...string) string {
	t.Helper()
	testenv.RequireCommand(t, "ostree")
	out, err := exec.Command("ostree", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ostree %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func TestParseMarshalVectors(t *testing.T) {
	v := vectorsDir(t)
	for _, p := range []string{"archive-repo/summary", "handmade-delta-repo/summary", "flatpak/repo/summary"} {
		data, err := os.ReadFile(filepath.Join(v, p))
		if err != nil {
			t.Fatal(err)
		}
		s, err := Parse(data)
		if err != nil {
			t.Fatalf("Parse(%s) = %v", p, err)
		}
		if got := s.Marshal(); !bytes.Equal(got, data) {
			t.Errorf("Marshal(Parse(%s)) differs", p)
		}
	}
	data, _ := os.ReadFile(filepath.Join(v, "archive-repo/summary"))
	s, _ := Parse(data)
	r, ok := s.Ref("test")
	if !ok || r.Checksum.String() != "2743a051dbd5d01fa82d16160548905073cc763b5b1537c14a4ce1ccb407a48f" || r.CommitSize != 158 {
		t.Errorf("Ref(test) = %+v, %v", r, ok)
	}
	if ts, _ := r.Timestamp(); !ts.Equal(time.Date(2020, 1, 2, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("Timestamp = %v", ts)
	}
	if s.Mode() != "archive-z2" {
		t.Errorf("Mode = %q", s.Mode())
	}
	for _, bad := range [][]byte{nil, []byte("x"), data[:len(data)-1]} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) = nil error", bad)
		}
	}
}

func TestViewMatchesOstree(t *testing.T) {
	v := vectorsDir(t)
	for _, p := range []string{"archive-repo", "flatpak/repo"} {
		repo := copyTree(t, filepath.Join(v, p))
		want := ostree(t, "--repo="+repo, "summary", "--view")
		data, _ := os.ReadFile(filepath.Join(repo, "summary"))
		var got bytes.Buffer
		if err := View(&got, data); err != nil {
			t.Fatal(err)
		}
		if got.String() != want {
			t.Errorf("View(%s) =\n%s\nwant (ostree summary --view)\n%s", p, got.String(), want)
		}
	}
}

// TestGenerateMatchesOstree regenerates the vector repo's summary with
// ostree and with Generate at the same last-modified time: byte-identical
// (same refs, static deltas, metadata order).
func TestGenerateMatchesOstree(t *testing.T) {
	v := vectorsDir(t)
	repoDir := copyTree(t, filepath.Join(v, "archive-repo"))
	ostree(t, "--repo="+repoDir, "summary", "-u")
	want, _ := os.ReadFile(filepath.Join(repoDir, "summary"))
	ws, err := Parse(want)
	if err != nil {
		t.Fatal(err)
	}
	lm, _ := ws.Lookup(KeyLastModified)
	os.Remove(filepath.Join(repoDir, "summary"))

	ctx := context.Background()
	repo, err := store.Open(ctx, repoDir)
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	s, err := Generate(ctx, repo, Options{Now: time.Unix(int64(swap64(lm.Uint64())), 0)})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(repoDir, "summary"))
	if !bytes.Equal(got, want) {
		var a, b bytes.Buffer
		View(&a, got)
		View(&b, want)
		t.Errorf("Generate wrote\n%s\nostree wrote\n%s", a.String(), b.String())
	}
	if len(s.Refs) != 2 {
		t.Errorf("refs = %d", len(s.Refs))
	}
	if _, err := os.Stat(filepath.Join(repoDir, SigFileName)); !os.IsNotExist(err) {
		t.Errorf("stale summary.sig kept: %v", err)
	}
	// ostree reads our summary.
	ostree(t, "--repo="+repoDir, "summary", "--view")
}

func TestGenerateSignedAndMetadata(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "repo")
	repo, err := store.Init(ctx, dir, store.ModeArchive)
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	e := newEntity(t)
	signer, err := sign.NewSigner(e)
	if err != nil {
		t.Fatal(err)
	}
	extra, err := ParseValue("'hello'")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Generate(ctx, repo, Options{Signers: []Signer{signer}, Metadata: []Entry{{"xa.title", extra}, {KeyMode, gvariant.String("bogus")}}}); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, FileName))
	sig, _ := os.ReadFile(filepath.Join(dir, SigFileName))
	kr := &sign.Keyring{}
	kr.Add(e)
	if _, err := Verify(data, sig, kr); err != nil {
		t.Errorf("Verify = %v", err)
	}
	if _, err := Verify(append(data, 0), sig, kr); err == nil {
		t.Error("Verify(modified summary) = nil error")
	}
	if err := AddSignature(ctx, dir, signer); err != nil {
		t.Fatal(err)
	}
	sig, _ = os.ReadFile(filepath.Join(dir, SigFileName))
	if rs, err := Verify(data, sig, kr); err != nil || len(rs) != 2 {
		t.Errorf("after AddSignature: %d results, %v", len(rs), err)
	}
	s, _ := Parse(data)
	if s.Mode() != "archive-z2" {
		t.Errorf("caller overrode mode: %q", s.Mode())
	}
	if v, ok := s.Lookup("xa.title"); !ok || v.Str() != "hello" {
		t.Errorf("xa.title = %v", v)
	}
	if v, _ := repo.ConfigValue("core", "indexed-deltas"); v != "true" {
		t.Errorf("indexed-deltas = %q", v)
	}
	var out bytes.Buffer
	View(&out, data)
	if !strings.Contains(out.String(), "xa.title: 'hello'\n") {
		t.Errorf("View = %s", out.String())
	}
}

func TestParseValue(t *testing.T) {
	for in, want := range map[string]string{
		"'bar'": "s", `"x y"`: "s", "1": "i", "true": "b", "uint64 5": "t", "['a', 'b']": "as", "1.5": "d",
	} {
		v, err := ParseValue(in)
		if err != nil || v.Type().String() != want {
			t.Errorf("ParseValue(%q) = %v, %v; want type %s", in, v, err, want)
		}
	}
	for _, in := range []string{"bar", "", "'x", "uint8 1"} {
		if _, err := ParseValue(in); err == nil {
			t.Errorf("ParseValue(%q) = nil error", in)
		}
	}
}

func FuzzParse(f *testing.F) {
	v := vectorsDir(f)
	for _, p := range []string{"archive-repo/summary", "handmade-delta-repo/summary", "flatpak/repo/summary"} {
		if b, err := os.ReadFile(filepath.Join(v, p)); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data)
		if err != nil {
			return
		}
		if got := s.Marshal(); !bytes.Equal(got, data) {
			t.Fatalf("Marshal(Parse(x)) != x")
		}
		var b bytes.Buffer
		if err := View(&b, data); err != nil {
			t.Fatal(err)
		}
	})
}
