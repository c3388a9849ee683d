package sign

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/porthole-dev/porthole/internal/testenv"
)

// gpgHome makes a GnuPG home under a short path (gpg-agent's socket must fit)
// and stops its agent when the test ends.
func gpgHome(t *testing.T) string {
	t.Helper()
	testenv.RequireCommand(t, "gpg")
	dir, err := os.MkdirTemp("", "gh")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o700)
	t.Cleanup(func() {
		exec.Command("gpgconf", "--homedir", dir, "--kill", "gpg-agent").Run()
		os.RemoveAll(dir)
	})
	return dir
}

func gpg(t *testing.T, home string, args ...string) string {
	t.Helper()
	cmd := exec.Command("gpg", append([]string{"--batch", "--homedir", home}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("gpg %v: %v\n%s", args, err, stderr.String())
	}
	return string(out) + stderr.String()
}

// genKey makes an unprotected key in home and returns its fingerprint.
func genKey(t *testing.T, home, uid, algo string) string {
	t.Helper()
	gpg(t, home, "--passphrase", "", "--quick-gen-key", uid, algo, "sign", "never")
	out := gpg(t, home, "--with-colons", "--list-keys", uid)
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Split(line, ":"); f[0] == "fpr" {
			return f[9]
		}
	}
	t.Fatalf("no fingerprint for %s in %s", uid, out)
	return ""
}

func TestGnuPGHomeSignerInterop(t *testing.T) {
	home := gpgHome(t)
	for _, tc := range []struct{ uid, algo, name string }{
		{"RSA Tester <rsa@example.com>", "rsa2048", "RSA"},
		{"Ed Tester <ed@example.com>", "ed25519", "EdDSA"},
		{"P256 Tester <p256@example.com>", "nistp256", "ECDSA"},
	} {
		t.Run(tc.algo, func(t *testing.T) {
			fpr := genKey(t, home, tc.uid, tc.algo)
			for _, id := range []string{fpr, fpr[24:], "0x" + fpr[32:]} {
				s, err := LoadHomeSigner(home, id)
				if err != nil {
					t.Fatalf("LoadHomeSigner(%s) = %v", id, err)
				}
				if s.Fingerprint() != fpr {
					t.Errorf("Fingerprint() = %s, want %s", s.Fingerprint(), fpr)
				}
			}
			s, err := LoadHomeSigner(home, fpr)
			if err != nil {
				t.Fatal(err)
			}
			data := []byte("commit bytes \x00\x01")
			sig, err := s.Sign(context.Background(), data)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "data"), data, 0o644)
			os.WriteFile(filepath.Join(dir, "data.sig"), sig, 0o644)
			if out := gpg(t, home, "--verify", filepath.Join(dir, "data.sig"), filepath.Join(dir, "data")); !strings.Contains(out, "Good signature") {
				t.Errorf("gpg --verify: %s", out)
			}
			// The signature packet must carry an issuer fingerprint subpacket
			// and be a v4 binary-document signature.
			p, err := packet.Read(bytes.NewReader(sig))
			if err != nil {
				t.Fatal(err)
			}
			ps := p.(*packet.Signature)
			if ps.Version != 4 || ps.SigType != packet.SigTypeBinary || len(ps.IssuerFingerprint) != 20 || ps.Hash != crypto.SHA256 {
				t.Errorf("signature: version %d type %d issuer fpr %x hash %v", ps.Version, ps.SigType, ps.IssuerFingerprint, ps.Hash)
			}
			pub := filepath.Join(dir, "pub.gpg")
			os.WriteFile(pub, []byte(gpg(t, home, "--export", fpr)), 0o644)
			kr, err := LoadKeyring(pub)
			if err != nil {
				t.Fatal(err)
			}
			rs := kr.Verify(data, [][]byte{sig}, VerifyOptions{})
			if len(rs) != 1 || !rs[0].Valid || rs[0].PubKeyAlgo != tc.name || rs[0].UserEmail != strings.Split(strings.Split(tc.uid, "<")[1], ">")[0] {
				t.Fatalf("Verify = %+v", rs)
			}
			if d := Describe(rs); !strings.Contains(d, "Found 1 signature:\n\n  Signature made ") ||
				!strings.Contains(d, "using "+tc.name+" key ID "+fpr[24:]+"\n  Good signature from \""+tc.uid+"\"\n") {
				t.Errorf("Describe = %q", d)
			}
			if err := RequireValid(rs); err != nil {
				t.Error(err)
			}
			// Tampered data and a corrupt signature are BAD.
			rs = kr.Verify(append([]byte{}, append(data, 'x')...), [][]byte{sig}, VerifyOptions{})
			if rs[0].Valid || rs[0].KeyMissing || !errors.Is(RequireValid(rs), ErrBadSignature) {
				t.Errorf("Verify(tampered) = %+v", rs[0])
			}
			if !strings.Contains(Describe(rs), "BAD signature from") {
				t.Errorf("Describe(tampered) = %s", Describe(rs))
			}
			bad := append([]byte{}, sig...)
			bad[len(bad)-3] ^= 0xff
			if rs := kr.Verify(data, [][]byte{bad, {1, 2, 3}}, VerifyOptions{}); CountValid(rs) != 0 {
				t.Errorf("Verify(corrupt) = %+v", rs)
			}
		})
	}
}

func TestProtectedKeyIsNamed(t *testing.T) {
	home := gpgHome(t)
	gpg(t, home, "--pinentry-mode", "loopback", "--passphrase", "secret", "--quick-gen-key", "P <p@example.com>", "ed25519", "sign", "never")
	_, err := LoadHomeSigner(home, "p@example.com")
	if !errors.Is(err, ErrKeyProtected) {
		t.Fatalf("LoadHomeSigner(protected) = %v, want ErrKeyProtected", err)
	}
	if _, err := LoadHomeSigner(home, "DEADBEEFDEADBEEF"); !errors.Is(err, ErrNoKey) {
		t.Errorf("LoadHomeSigner(unknown) = %v, want ErrNoKey", err)
	}
}

func TestGoCryptoKeysAndKeyFile(t *testing.T) {
	cfg := &packet.Config{DefaultHash: crypto.SHA256, RSABits: 2048}
	e, err := openpgp.NewEntity("Go Key", "", "go@example.com", cfg)
	if err != nil {
		t.Fatal(err)
	}
	other, err := openpgp.NewEntity("Other", "", "other@example.com", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var sec bytes.Buffer
	if err := e.SerializePrivate(&sec, nil); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "sec.gpg"), sec.Bytes(), 0o600)
	s, err := LoadKeyFileSigner(filepath.Join(dir, "sec.gpg"), "")
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("summary")
	sig, err := s.Sign(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	var pub bytes.Buffer
	e.Serialize(&pub)
	kr := &Keyring{}
	el, err := ReadKeys(pub.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	kr.Add(el...)
	if rs := kr.Verify(data, [][]byte{sig}, VerifyOptions{}); !rs[0].Valid {
		t.Errorf("Verify = %+v", rs)
	}
	wrong := &Keyring{}
	wrong.Add(other)
	rs := wrong.Verify(data, [][]byte{sig}, VerifyOptions{})
	if rs[0].Valid || !rs[0].KeyMissing || !strings.Contains(Describe(rs), "Can't check signature: public key not found") {
		t.Errorf("Verify(wrong key) = %+v", rs)
	}

	// GnuPG reads our signature with the public key imported.
	home := gpgHome(t)
	os.WriteFile(filepath.Join(dir, "pub.gpg"), pub.Bytes(), 0o644)
	os.WriteFile(filepath.Join(dir, "d"), data, 0o644)
	os.WriteFile(filepath.Join(dir, "d.sig"), sig, 0o644)
	gpg(t, home, "--import", filepath.Join(dir, "pub.gpg"))
	if out := gpg(t, home, "--verify", filepath.Join(dir, "d.sig"), filepath.Join(dir, "d")); !strings.Contains(out, "Good signature") {
		t.Errorf("gpg --verify: %s", out)
	}
}

func TestKeyboxParsing(t *testing.T) {
	if _, err := keyboxKeyblocks([]byte{0, 0, 0, 40, 2, 1}); err == nil {
		t.Error("keyboxKeyblocks(truncated) = nil error")
	}
	if _, err := keyboxKeyblocks([]byte{0, 0, 0, 16, 2, 1, 0, 0, 0, 0, 0, 200, 0, 0, 0, 10}); err == nil {
		t.Error("keyboxKeyblocks(out of bounds) = nil error")
	}
}

func TestSexp(t *testing.T) {
	for _, in := range []string{
		"(private-key (rsa (n #00B8DF#)(e #010001#)))",
		"(11:private-key(3:rsa(1:n3:\x00\xb8\xdf)(1:e3:\x01\x00\x01)))",
		"(private-key (ecc (curve Ed25519)(flags eddsa)(q |QA==|)(d \"ab\\n\")))",
	} {
		s, err := parseSexp([]byte(in))
		if err != nil || s.head() != "private-key" {
			t.Errorf("parseSexp(%q) = %v, %v", in, s, err)
		}
	}
	for _, in := range []string{"(", "(a #0#)", "(5:ab)", ")", "(a \"x)"} {
		if _, err := parseSexp([]byte(in)); err == nil {
			t.Errorf("parseSexp(%q) = nil error", in)
		}
	}
}

func TestImportKeysLikeOstree(t *testing.T) {
	testenv.RequireCommand(t, "ostree")
	home := gpgHome(t)
	genKey(t, home, "RSA <r@example.com>", "rsa2048")
	fpr := genKey(t, home, "Ed <e@example.com>", "ed25519")
	gpg(t, home, "--passphrase", "", "--quick-add-key", fpr, "cv25519", "encr", "never")
	dir := t.TempDir()
	pub := filepath.Join(dir, "pub.gpg")
	os.WriteFile(pub, []byte(gpg(t, home, "--export")), 0o644)
	asc := filepath.Join(dir, "pub.asc")
	os.WriteFile(asc, []byte(gpg(t, home, "--armor", "--export")), 0o644)
	repo := filepath.Join(dir, "repo")
	for _, args := range [][]string{
		{"--repo=" + repo, "init", "--mode=archive"},
		{"--repo=" + repo, "remote", "add", "--gpg-import=" + pub, "origin", "http://127.0.0.1/"},
	} {
		if out, err := exec.Command("ostree", args...).CombinedOutput(); err != nil {
			t.Fatalf("ostree %v: %v\n%s", args, err, out)
		}
	}
	want, err := os.ReadFile(filepath.Join(repo, "origin.trustedkeys.gpg"))
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range []string{pub, asc} {
		data, _ := os.ReadFile(src)
		path := filepath.Join(dir, filepath.Base(src)+".keyring")
		n, err := ImportKeys(path, data)
		if err != nil || n != 2 {
			t.Fatalf("ImportKeys(%s) = %d, %v", src, n, err)
		}
		got, _ := os.ReadFile(path)
		if !bytes.Equal(got, want) {
			t.Errorf("ImportKeys(%s) wrote %d bytes differing from ostree's %d", src, len(got), len(want))
		}
		if n, err := ImportKeys(path, data); err != nil || n != 0 {
			t.Errorf("second ImportKeys = %d, %v, want 0", n, err)
		}
		if kr, err := LoadKeyring(path); err != nil || kr.Len() != 2 {
			t.Errorf("LoadKeyring = %v, %v", kr.Len(), err)
		}
	}
}

// canonical writes s in the canonical S-expression form (as GnuPG 2.1 stored
// private-keys-v1.d files before the extended format).
func canonical(s *sexp) []byte {
	if !s.isList {
		return append([]byte(strconv.Itoa(len(s.atom))+":"), s.atom...)
	}
	out := []byte{'('}
	for _, c := range s.list {
		out = append(out, canonical(c)...)
	}
	return append(out, ')')
}

func TestCanonicalKeyFile(t *testing.T) {
	home := gpgHome(t)
	fpr := genKey(t, home, "Old Format <old@example.com>", "ed25519")
	files, _ := filepath.Glob(filepath.Join(home, "private-keys-v1.d", "*.key"))
	if len(files) != 1 {
		t.Fatalf("key files: %v", files)
	}
	raw, _ := os.ReadFile(files[0])
	s, err := parseSecretKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(files[0], canonical(s), 0o600)
	signer, err := LoadHomeSigner(home, fpr)
	if err != nil {
		t.Fatalf("LoadHomeSigner(canonical key file) = %v", err)
	}
	if _, err := signer.Sign(context.Background(), []byte("x")); err != nil {
		t.Fatal(err)
	}
}
