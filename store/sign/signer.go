package sign

import (
	"bytes"
	"context"
	"crypto"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Signer makes detached signatures with one secret key. It satisfies the
// store's signing hook: Sign(ctx, data) ([]byte, error).
type Signer struct {
	entity *openpgp.Entity
	keyID  uint64 // a specific signing subkey, or 0 for the best one
	now    func() time.Time
}

// NewSigner returns a Signer for an entity whose signing key has its
// (decrypted) private key attached, e.g. one made by openpgp.NewEntity.
func NewSigner(e *openpgp.Entity) (*Signer, error) {
	s := &Signer{entity: e, now: time.Now}
	if _, err := s.signingKey(); err != nil {
		return nil, err
	}
	return s, nil
}

// Entity returns the signer's key.
func (s *Signer) Entity() *openpgp.Entity { return s.entity }

// Fingerprint is the upper-case hex fingerprint of the primary key.
func (s *Signer) Fingerprint() string { return fmt.Sprintf("%X", s.entity.PrimaryKey.Fingerprint) }

func (s *Signer) signingKey() (openpgp.Key, error) {
	k, ok := s.entity.SigningKeyById(s.now(), s.keyID)
	if !ok {
		return openpgp.Key{}, fmt.Errorf("key %X has no usable signing key: %w", s.entity.PrimaryKey.Fingerprint, ErrNoKey)
	}
	if k.PrivateKey == nil {
		return openpgp.Key{}, fmt.Errorf("no secret key for %X: %w", k.PublicKey.Fingerprint, ErrNoKey)
	}
	if k.PrivateKey.Encrypted {
		return openpgp.Key{}, fmt.Errorf("key %X: %w", k.PublicKey.Fingerprint, ErrKeyProtected)
	}
	return k, nil
}

func (s *Signer) config() *packet.Config {
	no := false
	return &packet.Config{
		DefaultHash:  crypto.SHA256,
		Time:         s.now,
		SigningKeyId: s.keyID,
		// A salt notation is harmless but not what gpg writes; keep the
		// signature packet plain v4.
		NonDeterministicSignaturesViaNotation: &no,
	}
}

// Sign returns a binary v4 detached signature (class 0x00) over data, with
// Issuer and Issuer Fingerprint subpackets, as `gpg --detach-sign` makes.
func (s *Signer) Sign(ctx context.Context, data []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if _, err := s.signingKey(); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := openpgp.DetachSign(&buf, s.entity, bytes.NewReader(data), s.config()); err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	return buf.Bytes(), nil
}

// LoadHomeSigner finds keyID (fingerprint, key id or user id) in the GnuPG
// 2.2 home directory home and returns a Signer for it. The secret key must
// be unprotected (made with an empty passphrase, as the test keys are); a
// protected one gives an error wrapping ErrKeyProtected. When home
// is empty or names a key file it behaves as LoadSigner.
func LoadHomeSigner(home, keyID string) (*Signer, error) {
	if fi, err := os.Stat(home); home == "" || (err == nil && fi.Mode().IsRegular()) {
		return LoadSigner(keyID, home)
	}
	return loadHomeSigner(home, keyID)
}

func loadHomeSigner(home, keyID string) (*Signer, error) {
	el, err := readHomePublicKeys(home)
	if err != nil {
		return nil, err
	}
	e, sub, err := findEntity(el, keyID)
	if err != nil {
		return nil, fmt.Errorf("in %s: %w", home, err)
	}
	n, protected, err := attachHomeSecrets(home, e)
	if err != nil {
		return nil, fmt.Errorf("reading secret keys in %s: %w", home, err)
	}
	s := &Signer{entity: e, keyID: sub, now: time.Now}
	if _, err := s.signingKey(); err != nil {
		if protected {
			return nil, fmt.Errorf("key %s in %s: %w; remove the passphrase or use an unprotected key", keyID, home, ErrKeyProtected)
		}
		if n == 0 {
			return nil, fmt.Errorf("no secret key for %s in %s/private-keys-v1.d: %w", keyID, home, ErrNoKey)
		}
		return nil, err
	}
	return s, nil
}

// LoadKeyFileSigner reads secret keys (binary or armored, e.g. from
// `gpg --export-secret-keys`) from path and returns a Signer for keyID, or
// for the only key when keyID is empty.
func LoadKeyFileSigner(path, keyID string) (*Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading secret key: %w", err)
	}
	el, err := ReadKeys(data)
	if err != nil {
		return nil, fmt.Errorf("reading secret key %s: %w", path, err)
	}
	var e *openpgp.Entity
	var sub uint64
	if keyID == "" {
		if len(el) != 1 {
			return nil, fmt.Errorf("%s holds %d keys, name one: %w", path, len(el), ErrNoKey)
		}
		e = el[0]
	} else if e, sub, err = findEntity(el, keyID); err != nil {
		return nil, fmt.Errorf("in %s: %w", path, err)
	}
	s := &Signer{entity: e, keyID: sub, now: time.Now}
	if _, err := s.signingKey(); err != nil {
		return nil, err
	}
	return s, nil
}

// LoadSigner is what --gpg-sign=KEYID --gpg-homedir=DIR means: DIR may be a
// GnuPG home directory or a secret key file (binary or armored); empty DIR
// means $GNUPGHOME, else ~/.gnupg.
func LoadSigner(keyID, homeOrFile string) (*Signer, error) {
	if homeOrFile == "" {
		homeOrFile = os.Getenv("GNUPGHOME")
	}
	if homeOrFile == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return nil, fmt.Errorf("finding the GnuPG home: %w", err)
		}
		homeOrFile = filepath.Join(h, ".gnupg")
	}
	fi, err := os.Stat(homeOrFile)
	if err != nil {
		return nil, fmt.Errorf("reading secret keys: %w", err)
	}
	if fi.Mode().IsRegular() {
		return LoadKeyFileSigner(homeOrFile, keyID)
	}
	return loadHomeSigner(homeOrFile, keyID)
}
