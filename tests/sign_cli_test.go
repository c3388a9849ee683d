package tests

import (
	"bytes"
	"crypto"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// goCryptoKey makes a key with go-crypto and writes its secret key file and
// public key file.
func spGoCryptoKey(t *testing.T) (fpr, secret, pub string) {
	t.Helper()
	e, err := openpgp.NewEntity("Go Signer", "", "go@example.com", &packet.Config{RSABits: 3072, DefaultHash: crypto.SHA256})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var sec, pb bytes.Buffer
	if err := e.SerializePrivate(&sec, nil); err != nil {
		t.Fatal(err)
	}
	e.Serialize(&pb)
	secret, pub = filepath.Join(dir, "secret.gpg"), filepath.Join(dir, "pub.gpg")
	os.WriteFile(secret, sec.Bytes(), 0o600)
	os.WriteFile(pub, pb.Bytes(), 0o644)
	return fmt.Sprintf("%X", e.PrimaryKey.Fingerprint), secret, pub
}

// TestSignaturesFromBothKeySources signs a commit and the summary with a
// go-crypto key (key file) and a gpg-made key (GnuPG home); ostree verifies
// the pull with either key alone and reports both signatures.
func TestSignaturesFromBothKeySources(t *testing.T) {
	goFpr, goSecret, goPub := spGoCryptoKey(t)
	home, gpgFpr, gpgPub := spGPGHome(t, "rsa2048")
	tree := spTree(t, 5)
	work := t.TempDir()
	repo := filepath.Join(work, "served")
	spPorthole(t, "init", "--repo="+repo, "--mode=archive")
	spPorthole(t, "commit", "--repo="+repo, "-b", "main", "--gpg-sign="+goFpr, "--gpg-homedir="+goSecret, "--tree=dir="+tree)
	spPorthole(t, "gpg-sign", "--repo="+repo, "main", gpgFpr, "--gpg-homedir="+home)
	msg := spFail(t, spBin(t), "store", "gpg-sign", "--repo="+repo, "main", gpgFpr, "--gpg-homedir="+home)
	if !strings.Contains(msg, "already signed") {
		t.Errorf("signing twice: %s", msg)
	}
	spPorthole(t, "summary", "--repo="+repo, "-u", "--gpg-sign="+goFpr, "--gpg-homedir="+goSecret)
	spPorthole(t, "summary", "--repo="+repo, "--gpg-sign="+gpgFpr, "--gpg-homedir="+home)
	srv := spServe(t, repo)

	for name, key := range map[string]string{"go-crypto": goPub, "gpg": gpgPub} {
		t.Run(name, func(t *testing.T) {
			client := filepath.Join(t.TempDir(), "client")
			spOstree(t, "--repo="+client, "init", "--mode=bare-user-only")
			spOstree(t, "--repo="+client, "remote", "add", "--gpg-import="+key, "--set=gpg-verify-summary=true", "origin", srv.URL)
			spOstree(t, "--repo="+client, "pull", "origin", "main")
			show := spOstree(t, "--repo="+client, "show", "origin:main")
			if !strings.Contains(show, "Found 2 signatures:") || !strings.Contains(show, "Good signature from") ||
				!strings.Contains(show, "Can't check signature: public key not found") {
				t.Errorf("ostree show:\n%s", show)
			}
			// Our own show prints the same report for the pulled commit.
			local := filepath.Join(t.TempDir(), "local")
			spPorthole(t, "init", "--repo="+local, "--mode=archive")
			spPorthole(t, "remote", "add", "--repo="+local, "--gpg-import="+key, "--set=gpg-verify-summary=true", "origin", srv.URL)
			spPorthole(t, "pull", "--repo="+local, "origin", "main")
			ours := spPorthole(t, "show", "--repo="+local, "origin:main")
			if sigs := show[strings.Index(show, "Found"):]; !strings.Contains(ours, sigs) {
				t.Errorf("porthole store show:\n%s\nwant the signature report\n%s", ours, sigs)
			}
		})
	}
}

func TestProtectedKeyRefused(t *testing.T) {
	home, _, _ := spGPGHome(t, "ed25519")
	spRun(t, "gpg", "--batch", "--homedir", home, "--pinentry-mode", "loopback", "--passphrase", "secret",
		"--quick-gen-key", "Locked <locked@example.com>", "ed25519", "sign", "never")
	repo := filepath.Join(t.TempDir(), "repo")
	spPorthole(t, "init", "--repo="+repo, "--mode=archive")
	spPorthole(t, "commit", "--repo="+repo, "-b", "main", "--tree=dir="+spTree(t, 1))
	msg := spFail(t, spBin(t), "store", "gpg-sign", "--repo="+repo, "main", "locked@example.com", "--gpg-homedir="+home)
	if !strings.Contains(msg, "passphrase-protected") {
		t.Errorf("protected key: %s", msg)
	}
}
