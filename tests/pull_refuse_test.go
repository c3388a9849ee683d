package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPullRefusesCLI: with verification on, `porthole store pull` refuses a
// flipped byte in a served object (naming it), a wrong-key summary
// signature and a missing summary.sig; no ref moves and the repository
// stays consistent.
func TestPullRefusesCLI(t *testing.T) {
	key := filepath.Join(spVectors(t), "gpg", "ostree-test-pub.gpg")
	wrongKey := filepath.Join(spVectors(t), "gpg", "go-crypto", "ed25519", "pub.gpg")
	cases := []struct {
		name    string
		key     string
		prepare func(t *testing.T, served string)
		want    string
	}{
		{"flipped byte", key, func(t *testing.T, served string) {
			// hello.txt of commit B: "hello world, version two\n".
			var victim string
			filepath.Walk(filepath.Join(served, "objects"), func(p string, fi os.FileInfo, err error) error {
				if err == nil && strings.HasSuffix(p, ".filez") && fi.Size() > 40 && victim == "" {
					b, _ := os.ReadFile(p)
					if strings.Contains(string(b), "\x00\x00\x81\xa4") {
						victim = p
					}
				}
				return nil
			})
			b, _ := os.ReadFile(victim)
			b[len(b)-2] ^= 0x20
			os.WriteFile(victim, b, 0o644)
			rel, _ := filepath.Rel(served, victim)
			os.WriteFile(filepath.Join(served, "victim"), []byte(rel), 0o644)
		}, "@victim"},
		{"wrong key", wrongKey, func(t *testing.T, served string) {}, "public key not found"},
		{"missing summary.sig", key, func(t *testing.T, served string) {
			os.Remove(filepath.Join(served, "summary.sig"))
		}, "no summary signatures"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			served := spCopyVector(t, "archive-repo")
			tc.prepare(t, served)
			want := tc.want
			if want == "@victim" {
				b, _ := os.ReadFile(filepath.Join(served, "victim"))
				want = string(b)
			}
			srv := spServe(t, served)
			local := filepath.Join(t.TempDir(), "local")
			spPorthole(t, "init", "--repo="+local, "--mode=bare-user")
			spPorthole(t, "remote", "add", "--repo="+local, "--gpg-import="+tc.key, "--set=gpg-verify-summary=true", "origin", srv.URL)
			msg := spFail(t, spBin(t), "store", "pull", "--repo="+local, "--depth=-1", "origin", "test")
			if !strings.Contains(msg, want) {
				t.Errorf("pull error %q does not mention %q", msg, want)
			}
			if refs := spPorthole(t, "refs", "--repo="+local); strings.TrimSpace(refs) != "" {
				t.Errorf("refs moved: %q", refs)
			}
			spPorthole(t, "fsck", "--repo="+local)
			spOstree(t, "--repo="+local, "fsck")
		})
	}
}
