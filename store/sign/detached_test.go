package sign

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/porthole-dev/porthole/internal/testenv"
)

// vectorsDir finds shared/vectors/ostree above the package directory (the
// golden vectors made with the real ostree).
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

const commitB = "2743a051dbd5d01fa82d16160548905073cc763b5b1537c14a4ce1ccb407a48f"

func TestVectorSignatures(t *testing.T) {
	v := vectorsDir(t)
	repo := filepath.Join(v, "archive-repo")
	kr, err := LoadKeyring(filepath.Join(v, "gpg", "ostree-test-pub.gpg"))
	if err != nil {
		t.Fatal(err)
	}
	summary, _ := os.ReadFile(filepath.Join(repo, "summary"))
	sigData, _ := os.ReadFile(filepath.Join(repo, "summary.sig"))
	sigs, err := Signatures(sigData)
	if err != nil || len(sigs) != 1 {
		t.Fatalf("Signatures(summary.sig) = %d, %v", len(sigs), err)
	}
	rs := kr.Verify(summary, sigs, VerifyOptions{})
	if !rs[0].Valid || rs[0].Fingerprint != "3E5BED63564EC08B414E72CDC5599FB2510F98D3" {
		t.Errorf("Verify(summary) = %+v", rs[0])
	}
	commit, _ := os.ReadFile(filepath.Join(repo, "objects", "27", commitB[2:]+".commit"))
	meta, _ := os.ReadFile(filepath.Join(repo, "objects", "27", commitB[2:]+".commitmeta"))
	sigs, err = Signatures(meta)
	if err != nil || len(sigs) == 0 {
		t.Fatalf("Signatures(commitmeta) = %d, %v", len(sigs), err)
	}
	if rs := kr.Verify(commit, sigs, VerifyOptions{}); CountValid(rs) == 0 {
		t.Errorf("Verify(commit B) = %+v", rs)
	}
	if rs := kr.Verify(summary, sigs, VerifyOptions{}); CountValid(rs) != 0 {
		t.Errorf("commit signature verified the summary: %+v", rs)
	}

	// go-crypto signatures of the same objects, RSA and Ed25519.
	for _, alg := range []string{"rsa", "ed25519"} {
		gk, err := LoadKeyring(filepath.Join(v, "gpg", "go-crypto", alg, "pub.gpg"))
		if err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(filepath.Join(v, "gpg", "go-crypto", "summary.signed-data"))
		raw, _ := os.ReadFile(filepath.Join(v, "gpg", "go-crypto", alg, "summary.gpgsigs"))
		sigs, err := Signatures(raw)
		if err != nil {
			t.Fatal(err)
		}
		if rs := gk.Verify(data, sigs, VerifyOptions{}); CountValid(rs) != 1 {
			t.Errorf("%s: Verify = %+v", alg, rs)
		}
		if rs := kr.Verify(data, sigs, VerifyOptions{}); !rs[0].KeyMissing {
			t.Errorf("%s with the ostree key: %+v", alg, rs)
		}
	}
}

func TestAppendSignature(t *testing.T) {
	one, err := AppendSignature(nil, []byte("sig1"))
	if err != nil {
		t.Fatal(err)
	}
	// a{sv} {'ostree.gpgsigs': <[b'sig1']>} as GLib serialises it.
	two, err := AppendSignature(one, []byte("sig2"))
	if err != nil {
		t.Fatal(err)
	}
	sigs, err := Signatures(two)
	if err != nil || len(sigs) != 2 || string(sigs[0]) != "sig1" || string(sigs[1]) != "sig2" {
		t.Fatalf("Signatures(two) = %q, %v", sigs, err)
	}
	v := vectorsDir(t)
	meta, _ := os.ReadFile(filepath.Join(v, "gpg", "go-crypto", "rsa", commitB[2:]+".commit.gpgsigs"))
	old, _ := Signatures(meta)
	re, err := AppendSignature(nil, old[0])
	if err != nil || !bytes.Equal(re, meta) {
		t.Errorf("AppendSignature(nil, vector sig) differs from the vector (%v)", err)
	}
	if _, err := Signatures([]byte("garbage")); err == nil {
		t.Error("Signatures(garbage) = nil error")
	}
}

func TestDescribeDate(t *testing.T) {
	t.Setenv("TZ", "UTC")
	time.Local = time.UTC
	rs := []Result{{Created: time.Date(2026, 11, 6, 8, 3, 4, 0, time.UTC), PubKeyAlgo: "RSA", Fingerprint: "3E5BED63564EC08B414E72CDC5599FB2510F98D3", PrimaryFingerprint: "3E5BED63564EC08B414E72CDC5599FB2510F98D3", Valid: true, UserName: "A", UserEmail: "a@b"}}
	want := "Found 1 signature:\n\n  Signature made Fri Nov  6 08:03:04 2026 using RSA key ID C5599FB2510F98D3\n  Good signature from \"A <a@b>\"\n"
	if got := Describe(rs); got != want {
		t.Errorf("Describe = %q, want %q", got, want)
	}
	if !strings.HasPrefix(Describe(append(rs, rs...)), "Found 2 signatures:\n\n") {
		t.Error("plural")
	}
}

func FuzzSignatures(f *testing.F) {
	v := vectorsDir(f)
	for _, p := range []string{
		"archive-repo/summary.sig",
		"archive-repo/objects/27/" + commitB[2:] + ".commitmeta",
		"archive-repo/objects/a5/c7614cedb49c2051d8ed78cf32c093b2d86a616126990858450165587f7ffd.commitmeta",
		"gpg/go-crypto/ed25519/summary.gpgsigs",
	} {
		if b, err := os.ReadFile(filepath.Join(v, p)); err == nil {
			f.Add(b)
		}
	}
	kr, _ := LoadKeyring(filepath.Join(v, "gpg", "ostree-test-pub.gpg"))
	f.Fuzz(func(t *testing.T, data []byte) {
		sigs, err := Signatures(data)
		if err != nil {
			return
		}
		rs := kr.Verify([]byte("x"), sigs, VerifyOptions{})
		_ = Describe(rs)
		if out, err := AppendSignature(data, []byte("s")); err != nil {
			t.Fatalf("AppendSignature on parsed metadata: %v", err)
		} else if again, err := Signatures(out); err != nil || len(again) != len(sigs)+1 {
			t.Fatalf("round trip: %d sigs, %v", len(again), err)
		}
	})
}
