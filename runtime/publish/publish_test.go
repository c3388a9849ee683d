package publish

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/porthole-dev/porthole/internal/gvariant"
	"github.com/porthole-dev/porthole/runtime/permissions"
	"github.com/porthole-dev/porthole/store"
	"github.com/porthole-dev/porthole/store/object"
	"github.com/porthole-dev/porthole/store/sign"
	"github.com/porthole-dev/porthole/store/summary"
)

func testSigner(t *testing.T) (*sign.Signer, []byte) {
	t.Helper()
	e, err := openpgp.NewEntity("Publish Test", "", "p@example.com", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, DefaultHash: crypto.SHA256})
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewTestSigner(e)
	if err != nil {
		t.Fatal(err)
	}
	var pub bytes.Buffer
	e.Serialize(&pub)
	return s, pub.Bytes()
}

// NewTestSigner wraps sign.NewSigner (kept separate for readability).
func NewTestSigner(e *openpgp.Entity) (*sign.Signer, error) { return sign.NewSigner(e) }

func write(t *testing.T, path, data string, mode os.FileMode) {
	t.Helper()
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
}

func TestPublish(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	signer, pub := testSigner(t)

	rt := filepath.Join(dir, "rt")
	if err := BuildInit(rt, "org.test.Platform", "org.test.Platform", "org.test.Platform", "1", InitOptions{Runtime: true, Arch: "x86_64"}); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(rt, "usr", "bin", "tool"), "#!/bin/sh\n", 0o755)

	app := filepath.Join(dir, "app")
	if err := BuildInit(app, "org.test.Hello", "org.test.Platform", "org.test.Platform", "1", InitOptions{Arch: "x86_64"}); err != nil {
		t.Fatal(err)
	}
	if err := BuildInit(app, "org.test.Hello", "a.b.C", "a.b.C", "", InitOptions{}); err == nil {
		t.Error("BuildInit over an initialized directory succeeded")
	}
	write(t, filepath.Join(app, "files", "bin", "hello"), "#!/bin/sh\necho hi\n", 0o755)
	write(t, filepath.Join(app, "files", "share", "applications", "org.test.Hello.desktop"), "[Desktop Entry]\nName=Hello\nComment=Greets\nExec=hello\n", 0o644)
	write(t, filepath.Join(app, "files", "share", "applications", "other.desktop"), "[Desktop Entry]\n", 0o644)
	write(t, filepath.Join(app, "files", "share", "icons", "hicolor", "64x64", "apps", "org.test.Hello.png"), "PNG", 0o644)
	c := permissions.New()
	c.ApplyOption("share", "network")
	if err := Finish(app, FinishOptions{Context: c}); err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(filepath.Join(app, "metadata"))
	if want := "[Application]\nname=org.test.Hello\nruntime=org.test.Platform/x86_64/1\nsdk=org.test.Platform/x86_64/1\ncommand=hello\n\n[Context]\nshared=network;\n"; string(md) != want {
		t.Errorf("metadata:\n%s\nwant\n%s", md, want)
	}
	if _, err := os.Stat(filepath.Join(app, "export", "share", "applications", "other.desktop")); err == nil {
		t.Error("a desktop file not named after the app was exported")
	}

	repoDir := filepath.Join(dir, "repo")
	if _, err := Export(ctx, repoDir, rt, ExportOptions{Runtime: true, Branch: "1", Arch: "x86_64", Signer: signer}); err != nil {
		t.Fatal(err)
	}
	res, err := Export(ctx, repoDir, app, ExportOptions{Branch: "stable", Arch: "x86_64", Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	// metadata + 4 files under files/ + 2 exported copies, each rounded to 512.
	if res.InstalledSize != 7*512 || res.DownloadSize == 0 {
		t.Errorf("sizes %d %d", res.InstalledSize, res.DownloadSize)
	}
	if err := UpdateRepo(ctx, repoDir, UpdateOptions{Title: "T", DefaultBranch: "stable", GPGImport: pub,
		Signers: []summary.Signer{signer}}); err != nil {
		t.Fatal(err)
	}

	repo, err := store.Open(ctx, repoDir)
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	data, _ := repo.ReadMetadata(ctx, object.TypeCommit, res.Commit)
	cm, _ := object.UnmarshalCommit(data)
	for key, want := range map[string]string{
		KeyMetadata:   gvariant.String(string(md)).String(),
		KeyRefBinding: "['app/org.test.Hello/x86_64/stable']",
		KeyCollection: "''",
		KeyRef:        "'app/org.test.Hello/x86_64/stable'",
	} {
		e, ok := cm.Metadata.Lookup(key)
		if !ok {
			t.Errorf("commit lacks %s", key)
			continue
		}
		if v, _ := e.Variant(); v.String() != want {
			t.Errorf("%s = %s, want %s", key, v, want)
		}
	}
	if e, _ := cm.Metadata.Lookup(KeyInstalledSize); e.Value == nil || swap64(mustVariant(t, e).Uint64()) != 7*512 {
		t.Errorf("xa.installed-size not big-endian 3584")
	}

	kr := &sign.Keyring{}
	ents, _ := sign.ReadKeys(pub)
	kr.Add(ents...)
	sumData, _ := os.ReadFile(filepath.Join(repoDir, "summary"))
	sumSig, _ := os.ReadFile(filepath.Join(repoDir, "summary.sig"))
	if rs, err := summary.Verify(sumData, sumSig, kr); err != nil || sign.RequireValid(rs) != nil {
		t.Errorf("summary signature: %v %v", rs, err)
	}
	s, err := summary.Parse(sumData)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"app/org.test.Hello/x86_64/stable", "runtime/org.test.Platform/x86_64/1", "appstream/x86_64", "appstream2/x86_64"} {
		if _, ok := s.Ref(n); !ok {
			t.Errorf("summary lacks %s", n)
		}
	}
	cache, ok := s.Lookup(KeyCache)
	if !ok || cache.Type().String() != "v" || cache.Unbox().Type().String() != "a{s(tts)}" {
		t.Fatalf("xa.cache %v", cache.Type())
	}
	if v, ok := s.Lookup(KeyGPGKeys); !ok || !bytes.Equal(v.ByteSlice(), pub) {
		t.Error("xa.gpg-keys is not the imported key")
	}

	idxData, _ := os.ReadFile(filepath.Join(repoDir, IndexFile))
	ix, err := ParseIndex(idxData)
	if err != nil {
		t.Fatal(err)
	}
	digest := ix.Subsummaries["x86_64"]
	gz, err := os.ReadFile(filepath.Join(repoDir, SummariesDir, hex.EncodeToString(digest)+".gz"))
	if err != nil {
		t.Fatal(err)
	}
	zr, _ := gzip.NewReader(bytes.NewReader(gz))
	sub, _ := io.ReadAll(zr)
	if got := sha256.Sum256(sub); !bytes.Equal(got[:], digest) {
		t.Error("subsummary digest mismatch")
	}
	ss, err := summary.Parse(sub)
	if err != nil {
		t.Fatal(err)
	}
	r, ok := ss.Ref("app/org.test.Hello/x86_64/stable")
	if !ok {
		t.Fatal("subsummary lacks the app")
	}
	if v, ok := r.Lookup(KeyData); !ok || v.Type().String() != "(tts)" || v.Index(2).Str() != string(md) {
		t.Errorf("xa.data %v", v)
	}
	if _, ok := r.Lookup(KeyTimestamp); !ok {
		t.Error("no ot.ts")
	}
	idxSum := sha256.Sum256(idxData)
	idxSig, err := os.ReadFile(filepath.Join(repoDir, SummariesDir, hex.EncodeToString(idxSum[:])+".idx.sig"))
	if err != nil {
		t.Fatal(err)
	}
	sigs, _ := sign.Signatures(idxSig)
	if rs := kr.Verify(idxData, sigs, sign.VerifyOptions{}); sign.RequireValid(rs) != nil {
		t.Errorf("summary.idx signature: %v", rs)
	}

	// appstream2 holds the component with its bundle and icon.
	co := filepath.Join(dir, "as")
	if err := store.Checkout(ctx, repo, "appstream2/x86_64", co, store.CheckoutOptions{UserMode: true}); err != nil {
		t.Fatal(err)
	}
	xml, _ := os.ReadFile(filepath.Join(co, "appstream.xml"))
	for _, want := range []string{"<id>org.test.Hello</id>", "<name>Hello</name>", ">app/org.test.Hello/x86_64/stable</bundle>"} {
		if !strings.Contains(string(xml), want) {
			t.Errorf("appstream.xml lacks %s:\n%s", want, xml)
		}
	}
	if _, err := os.Stat(filepath.Join(co, "icons", "64x64", "org.test.Hello.png")); err != nil {
		t.Error("icon missing from appstream2")
	}

	// A second update with nothing new keeps the appstream commit and the
	// subsummary; build-sign adds a signature.
	head, _ := repo.ResolveRef(ctx, "appstream/x86_64")
	if err := UpdateRepo(ctx, repoDir, UpdateOptions{Signers: []summary.Signer{signer}}); err != nil {
		t.Fatal(err)
	}
	if again, _ := repo.ResolveRef(ctx, "appstream/x86_64"); again != head {
		t.Error("unchanged appstream got a new commit")
	}
	if err := Sign(ctx, repoDir, []string{"app/org.test.Hello/x86_64/stable"}, signer); err != nil {
		t.Fatal(err)
	}
	meta, _ := repo.ReadCommitMeta(ctx, res.Commit)
	if sigs, _ := sign.Signatures(meta); len(sigs) != 2 {
		t.Errorf("%d signatures after build-sign, want 2", len(sigs))
	}
}

func mustVariant(t *testing.T, e object.MetadataEntry) gvariant.Value {
	t.Helper()
	v, err := e.Variant()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func FuzzParseIndex(f *testing.F) {
	if d, err := os.ReadFile("testdata/summary.idx"); err == nil {
		f.Add(d)
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, d []byte) { _, _ = ParseIndex(d) })
}

// TestParseIndexVector reads the summary.idx flatpak build-update-repo wrote.
func TestParseIndexVector(t *testing.T) {
	d, err := os.ReadFile("testdata/summary.idx")
	if err != nil {
		t.Fatal(err)
	}
	ix, err := ParseIndex(d)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(ix.Subsummaries["x86_64"]); got != "141bdd70bb8f6d21de690b939aa446333300813fc6bbdc5ed581379f913d8f35" {
		t.Errorf("x86_64 digest %s", got)
	}
	if v, ok := ix.Metadata.Lookup(KeyTitle); !ok || v.Str() != "Test Repo" {
		t.Errorf("xa.title %v", v)
	}
}
