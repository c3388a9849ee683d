package pull

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/porthole-dev/porthole/store"
	"github.com/porthole-dev/porthole/store/object"
	"github.com/porthole-dev/porthole/store/sign"
	"github.com/porthole-dev/porthole/store/summary"
)

const (
	commitA = "a5c7614cedb49c2051d8ed78cf32c093b2d86a616126990858450165587f7ffd"
	commitB = "2743a051dbd5d01fa82d16160548905073cc763b5b1537c14a4ce1ccb407a48f"
)

// addVectorRemote adds remote "origin" for url with the ostree test key and
// both verifications on.
func addVectorRemote(t *testing.T, r *store.Repo, url string) {
	t.Helper()
	key, err := os.ReadFile(filepath.Join(vectorsDir(t), "gpg", "ostree-test-pub.gpg"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := AddRemote(context.Background(), r, "origin", url, AddOptions{
		GPGImport: key, Set: [][2]string{{"gpg-verify-summary", "true"}},
	}); err != nil {
		t.Fatal(err)
	}
}

func TestPullVectorRepoAllModes(t *testing.T) {
	served := copyRepo(t, filepath.Join(vectorsDir(t), "archive-repo"))
	srv := serve(t, served)
	for _, mode := range []store.Mode{store.ModeArchive, store.ModeBareUser, store.ModeBareUserOnly} {
		t.Run(mode.String(), func(t *testing.T) {
			ctx := context.Background()
			r := initRepo(t, mode)
			addVectorRemote(t, r, srv.URL)
			res, err := Pull(ctx, r, "origin", []string{"test"}, Options{Depth: 1})
			if err != nil {
				t.Fatalf("Pull = %v", err)
			}
			if got := res.Refs["test"].String(); got != commitB {
				t.Errorf("pulled %s, want %s", got, commitB)
			}
			c, err := r.ResolveRef(ctx, "origin:test")
			if err != nil || c.String() != commitB {
				t.Errorf("ResolveRef(origin:test) = %s, %v", c, err)
			}
			for _, want := range []string{commitA, commitB} {
				cs, _ := object.ParseChecksum(want)
				if ok, _ := r.HasObject(ctx, object.ObjectName{Checksum: cs, Type: object.TypeCommit}); !ok {
					t.Errorf("commit %s missing (depth 1)", want)
				}
				if p, _ := r.IsCommitPartial(ctx, cs); p {
					t.Errorf("commit %s still partial", want)
				}
			}
			if _, err := os.Stat(filepath.Join(r.Path(), "tmp", "cache", "summaries", "origin.sig")); err != nil {
				t.Errorf("summary cache: %v", err)
			}
			ourFsck(t, r)
			r.Flush(ctx)
			ostreeFsck(t, r.Path())

			// A second pull fetches no object, and reuses the cached summary.
			srv.reset()
			if _, err := Pull(ctx, r, "origin", []string{"test"}, Options{Depth: 1}); err != nil {
				t.Fatal(err)
			}
			if n := srv.count("objects/"); n != 0 {
				t.Errorf("second pull fetched %d objects", n)
			}
			if n := srv.count("summary"); n != 1 {
				t.Errorf("second pull fetched summary files %d times, want only summary.sig", n)
			}
		})
	}
}

func TestPullMirrorAndFile(t *testing.T) {
	ctx := context.Background()
	served := copyRepo(t, filepath.Join(vectorsDir(t), "archive-repo"))
	r := initRepo(t, store.ModeArchive)
	if _, err := AddRemote(ctx, r, "local", "file://"+served, AddOptions{NoGPGVerify: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := Pull(ctx, r, "local", nil, Options{Mirror: true}); err != nil {
		t.Fatal(err)
	}
	heads, _ := r.ListRefs(ctx, "")
	if heads["test"].String() != commitB || len(heads) != 2 {
		t.Errorf("mirror refs = %v", heads)
	}
	ourFsck(t, r)
}

// refused runs a pull that must fail and checks no ref moved.
func refused(t *testing.T, r *store.Repo, want string) error {
	t.Helper()
	return refusedOpts(t, r, want, Options{})
}

func refusedOpts(t *testing.T, r *store.Repo, want string, opts Options) error {
	t.Helper()
	_, err := Pull(context.Background(), r, "origin", []string{"test"}, opts)
	if err == nil {
		t.Fatalf("Pull succeeded, want an error mentioning %q", want)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("Pull error = %v, want it to mention %q", err, want)
	}
	if refs, _ := r.ListRefs(context.Background(), "origin"); len(refs) != 0 {
		t.Errorf("refs moved: %v", refs)
	}
	return err
}

func TestPullRefusals(t *testing.T) {
	v := vectorsDir(t)
	commitBPath := "objects/27/" + commitB[2:]

	t.Run("missing summary.sig", func(t *testing.T) {
		served := copyRepo(t, filepath.Join(v, "archive-repo"))
		os.Remove(filepath.Join(served, "summary.sig"))
		r := initRepo(t, store.ModeArchive)
		addVectorRemote(t, r, serve(t, served).URL)
		if err := refused(t, r, "no summary signatures"); !errors.Is(err, sign.ErrNoSignatures) {
			t.Errorf("error does not wrap ErrNoSignatures: %v", err)
		}
	})
	t.Run("wrong key", func(t *testing.T) {
		served := copyRepo(t, filepath.Join(v, "archive-repo"))
		r := initRepo(t, store.ModeArchive)
		key, _ := os.ReadFile(filepath.Join(v, "gpg", "go-crypto", "rsa", "pub.gpg"))
		AddRemote(context.Background(), r, "origin", serve(t, served).URL, AddOptions{GPGImport: key, Set: [][2]string{{"gpg-verify-summary", "true"}}})
		refused(t, r, "public key not found")
	})
	t.Run("corrupt summary.sig", func(t *testing.T) {
		served := copyRepo(t, filepath.Join(v, "archive-repo"))
		p := filepath.Join(served, "summary.sig")
		b, _ := os.ReadFile(p)
		b[len(b)/2] ^= 0x55
		os.WriteFile(p, b, 0o644)
		r := initRepo(t, store.ModeArchive)
		addVectorRemote(t, r, serve(t, served).URL)
		refused(t, r, "summary")
	})
	t.Run("modified summary", func(t *testing.T) {
		served := copyRepo(t, filepath.Join(v, "archive-repo"))
		p := filepath.Join(served, "summary")
		b, _ := os.ReadFile(p)
		i := bytes.Index(b, []byte("xattr"))
		b[i] = 'y'
		os.WriteFile(p, b, 0o644)
		r := initRepo(t, store.ModeArchive)
		addVectorRemote(t, r, serve(t, served).URL)
		refused(t, r, "BAD signature")
	})
	t.Run("corrupt commitmeta", func(t *testing.T) {
		served := copyRepo(t, filepath.Join(v, "archive-repo"))
		p := filepath.Join(served, commitBPath+".commitmeta")
		b, _ := os.ReadFile(p)
		b[40] ^= 0xff
		os.WriteFile(p, b, 0o644)
		r := initRepo(t, store.ModeArchive)
		addVectorRemote(t, r, serve(t, served).URL)
		refused(t, r, commitB)
		cs, _ := object.ParseChecksum(commitB)
		if ok, _ := r.HasObject(context.Background(), object.ObjectName{Checksum: cs, Type: object.TypeCommit}); ok {
			t.Error("commit stored despite its bad signature")
		}
	})
	t.Run("missing commitmeta", func(t *testing.T) {
		served := copyRepo(t, filepath.Join(v, "archive-repo"))
		os.Remove(filepath.Join(served, commitBPath+".commitmeta"))
		r := initRepo(t, store.ModeArchive)
		addVectorRemote(t, r, serve(t, served).URL)
		refused(t, r, "no signatures found")
	})
	t.Run("flipped byte in objects", func(t *testing.T) {
		for _, suffix := range []string{".dirtree", ".dirmeta", ".filez"} {
			served := copyRepo(t, filepath.Join(v, "archive-repo"))
			var victim string
			filepath.Walk(filepath.Join(served, "objects"), func(p string, fi os.FileInfo, err error) error {
				if err == nil && victim == "" && strings.HasSuffix(p, suffix) {
					victim = p
				}
				return nil
			})
			b, _ := os.ReadFile(victim)
			b[len(b)-1] ^= 0x01
			os.WriteFile(victim, b, 0o644)
			rel, _ := filepath.Rel(served, victim)
			r := initRepo(t, store.ModeArchive)
			addVectorRemote(t, r, serve(t, served).URL)
			err := refusedOpts(t, r, rel, Options{Depth: -1})
			if !errors.Is(err, store.ErrCorrupt) && !errors.Is(err, object.ErrInvalid) {
				t.Errorf("%s: error %v wraps neither ErrCorrupt nor ErrInvalid", suffix, err)
			}
			base := filepath.Base(victim)
			cs, _ := object.ParseChecksum(rel[8:10] + strings.TrimSuffix(base, filepath.Ext(base)))
			typ := map[string]object.ObjectType{".dirtree": object.TypeDirTree, ".dirmeta": object.TypeDirMeta, ".filez": object.TypeFile}[suffix]
			r.Flush(context.Background())
			if ok, _ := r.HasObject(context.Background(), object.ObjectName{Checksum: cs, Type: typ}); ok {
				t.Errorf("corrupt %s was stored", rel)
			}
			ourFsck(t, r)
		}
	})
	t.Run("ref binding", func(t *testing.T) {
		ctx := context.Background()
		served := copyRepo(t, filepath.Join(v, "archive-repo"))
		os.WriteFile(filepath.Join(served, "refs/heads/other"), []byte(commitB+"\n"), 0o644)
		sr, err := store.Open(ctx, served)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := summary.Generate(ctx, sr, summary.Options{}); err != nil {
			t.Fatal(err)
		}
		sr.Close()
		r := initRepo(t, store.ModeArchive)
		key, _ := os.ReadFile(filepath.Join(v, "gpg", "ostree-test-pub.gpg"))
		AddRemote(ctx, r, "origin", serve(t, served).URL, AddOptions{GPGImport: key})
		_, err = Pull(ctx, r, "origin", []string{"other"}, Options{})
		if !errors.Is(err, ErrRefBinding) {
			t.Errorf("Pull(other → B bound to test) = %v, want ErrRefBinding", err)
		}
		if refs, _ := r.ListRefs(ctx, "origin"); len(refs) != 0 {
			t.Errorf("refs moved: %v", refs)
		}
		if _, err := Pull(ctx, r, "origin", []string{"test"}, Options{}); err != nil {
			t.Errorf("Pull(test) = %v", err)
		}
	})
	t.Run("non-archive remote", func(t *testing.T) {
		served := copyRepo(t, filepath.Join(v, "archive-repo"))
		os.WriteFile(filepath.Join(served, "config"), []byte("[core]\nrepo_version=1\nmode=bare-user\n"), 0o644)
		r := initRepo(t, store.ModeArchive)
		addVectorRemote(t, r, serve(t, served).URL)
		refused(t, r, "mode")
	})
}

// TestPullResumesAfterCancel cancels a pull after some objects and checks
// the rerun fetches none of the objects already stored.
func TestPullResumesAfterCancel(t *testing.T) {
	ctx := context.Background()
	served := copyRepo(t, filepath.Join(vectorsDir(t), "archive-repo"))
	srv := serve(t, served)
	r := initRepo(t, store.ModeBareUser)
	addVectorRemote(t, r, srv.URL)
	cctx, cancel := context.WithCancel(ctx)
	var filez atomic.Int32
	srv.setHook(func(w http.ResponseWriter, req *http.Request) bool {
		if strings.HasSuffix(req.URL.Path, ".filez") {
			if filez.Add(1) > 2 {
				cancel()
				http.Error(w, "gone away", http.StatusServiceUnavailable)
				return true
			}
		}
		return false
	})
	_, err := Pull(cctx, r, "origin", []string{"test"}, Options{Workers: 1})
	if err == nil {
		t.Fatal("interrupted pull succeeded")
	}
	cs, _ := object.ParseChecksum(commitB)
	if p, _ := r.IsCommitPartial(ctx, cs); !p {
		t.Error("interrupted commit not marked partial")
	}
	if refs, _ := r.ListRefs(ctx, "origin"); len(refs) != 0 {
		t.Errorf("refs moved: %v", refs)
	}
	r.Flush(ctx)
	stored := map[string]bool{}
	r.ListObjects(ctx, func(n object.ObjectName) error {
		stored["objects/"+n.LoosePath(true)] = true
		return nil
	})
	srv.setHook(nil)
	srv.reset()
	if _, err := Pull(ctx, r, "origin", []string{"test"}, Options{}); err != nil {
		t.Fatal(err)
	}
	srv.mu.Lock()
	for p := range srv.gets {
		if stored[p] && !strings.HasSuffix(p, ".commitmeta") {
			t.Errorf("refetched stored object %s", p)
		}
	}
	srv.mu.Unlock()
	if p, _ := r.IsCommitPartial(ctx, cs); p {
		t.Error("commit still partial")
	}
	ourFsck(t, r)
	ostreeFsck(t, r.Path())
}

func TestRemotes(t *testing.T) {
	ctx := context.Background()
	r := initRepo(t, store.ModeArchive)
	if _, err := AddRemote(ctx, r, "b", "http://b/", AddOptions{NoGPGVerify: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := AddRemote(ctx, r, "a", "http://a/", AddOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := AddRemote(ctx, r, "a", "http://a2/", AddOptions{}); !errors.Is(err, ErrRemoteExists) {
		t.Errorf("duplicate AddRemote = %v", err)
	}
	if _, err := AddRemote(ctx, r, "a", "http://a2/", AddOptions{IfNotExists: true}); err != nil {
		t.Errorf("AddRemote(IfNotExists) = %v", err)
	}
	cfg, _ := os.ReadFile(filepath.Join(r.Path(), "config"))
	want := "[core]\nrepo_version=1\nmode=archive-z2\n\n[remote \"b\"]\nurl=http://b/\ngpg-verify=false\n\n[remote \"a\"]\nurl=http://a/\n"
	if string(cfg) != want {
		t.Errorf("config =\n%s\nwant\n%s", cfg, want)
	}
	if got := ListRemotes(r); strings.Join(got, ",") != "a,b" {
		t.Errorf("ListRemotes = %v", got)
	}
	rem, _ := LoadRemote(r, "a")
	if !rem.GPGVerify || rem.GPGVerifySummary {
		t.Errorf("defaults: %+v", rem)
	}
	if err := DeleteRemote(ctx, r, "a", false); err != nil {
		t.Fatal(err)
	}
	if err := DeleteRemote(ctx, r, "a", false); !errors.Is(err, ErrNoRemote) {
		t.Errorf("DeleteRemote(missing) = %v", err)
	}
}

// TestPullCommitWrongKey: with only commit verification on, a commit
// signed by a key the remote's keyring lacks is refused.
func TestPullCommitWrongKey(t *testing.T) {
	v := vectorsDir(t)
	served := copyRepo(t, filepath.Join(v, "archive-repo"))
	r := initRepo(t, store.ModeBareUserOnly)
	key, _ := os.ReadFile(filepath.Join(v, "gpg", "go-crypto", "ed25519", "pub.gpg"))
	if _, err := AddRemote(context.Background(), r, "origin", serve(t, served).URL, AddOptions{GPGImport: key}); err != nil {
		t.Fatal(err)
	}
	if err := refused(t, r, "public key not found"); !errors.Is(err, sign.ErrBadSignature) {
		t.Errorf("error %v does not wrap ErrBadSignature", err)
	}
}
