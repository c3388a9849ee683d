package sign

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Sentinel errors.
var (
	// ErrNoKey: no key matched the requested key id, or a keyring is empty.
	ErrNoKey = errors.New("no matching key")
	// ErrKeyProtected: the secret key is passphrase-protected (or lives on
	// a smartcard); only unprotected secret keys can be used.
	ErrKeyProtected = errors.New("secret key is passphrase-protected")
	// ErrNoSignatures: verification found no signature at all.
	ErrNoSignatures = errors.New("no signatures found")
	// ErrBadSignature: no valid signature from a trusted key was found.
	ErrBadSignature = errors.New("no valid signature")
)

// Keyring is a set of public keys that signatures are checked against.
// The zero value is an empty keyring.
type Keyring struct {
	entities openpgp.EntityList
}

// Entities returns the keys of the keyring. The caller must not modify them.
func (k *Keyring) Entities() openpgp.EntityList {
	if k == nil {
		return nil
	}
	return k.entities
}

// Len is the number of primary keys in the keyring.
func (k *Keyring) Len() int {
	if k == nil {
		return 0
	}
	return len(k.entities)
}

// Add adds entities to the keyring, skipping ones already present.
func (k *Keyring) Add(es ...*openpgp.Entity) {
	for _, e := range es {
		if !k.has(e.PrimaryKey.Fingerprint) {
			k.entities = append(k.entities, e)
		}
	}
}

func (k *Keyring) has(fpr []byte) bool {
	for _, e := range k.entities {
		if bytes.Equal(e.PrimaryKey.Fingerprint, fpr) {
			return true
		}
	}
	return false
}

// ReadKeys parses public (or secret) keys, binary or ASCII-armored; several
// armored blocks may follow each other. Trust packets, as GnuPG keyring files
// carry, are skipped.
func ReadKeys(data []byte) (openpgp.EntityList, error) {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if !bytes.HasPrefix(trimmed, []byte("-----BEGIN PGP")) {
		el, err := openpgp.ReadKeyRing(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("reading keys: %w", err)
		}
		return el, nil
	}
	var all openpgp.EntityList
	r := bytes.NewReader(trimmed)
	for {
		block, err := armor.Decode(r)
		if err == io.EOF {
			break
		}
		if err != nil {
			if len(all) > 0 {
				break
			}
			return nil, fmt.Errorf("reading armored keys: %w", err)
		}
		el, err := openpgp.ReadKeyRing(block.Body)
		if err != nil {
			return nil, fmt.Errorf("reading armored keys: %w", err)
		}
		all = append(all, el...)
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("reading armored keys: %w", ErrNoKey)
	}
	return all, nil
}

// LoadKeyring reads each file (binary or armored keys) into one keyring.
// A directory is read as every *.gpg file in it, sorted by name.
func LoadKeyring(paths ...string) (*Keyring, error) {
	k := &Keyring{}
	for _, p := range paths {
		if err := k.addPath(p); err != nil {
			return nil, err
		}
	}
	return k, nil
}

func (k *Keyring) addPath(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("reading keyring: %w", err)
	}
	if fi.IsDir() {
		names, err := filepath.Glob(filepath.Join(p, "*.gpg"))
		if err != nil {
			return err
		}
		sort.Strings(names)
		for _, n := range names {
			if err := k.addPath(n); err != nil {
				return err
			}
		}
		return nil
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return fmt.Errorf("reading keyring: %w", err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	el, err := ReadKeys(data)
	if err != nil {
		return fmt.Errorf("reading keyring %s: %w", p, err)
	}
	k.Add(el...)
	return nil
}

// Default keyring locations ostree uses.
const (
	SystemRemotesDir = "/etc/ostree/remotes.d"
	GlobalTrustedDir = "/usr/share/ostree/trusted.gpg.d"
)

// RemoteKeyringPath is where a repository keeps the keyring of a remote.
func RemoteKeyringPath(repoDir, remote string) string {
	return filepath.Join(repoDir, remote+".trustedkeys.gpg")
}

// KeyringOptions name the places RemoteKeyring looks in; empty fields take
// ostree's defaults.
type KeyringOptions struct {
	// GPGKeyPath is the remote's gpgkeypath= setting: files or directories,
	// separated by ';' or ','.
	GPGKeyPath string
	// RemotesDir replaces /etc/ostree/remotes.d.
	RemotesDir string
	// GlobalDir replaces /usr/share/ostree/trusted.gpg.d.
	GlobalDir string
}

// RemoteKeyring collects the keys trusted for remote the way ostree does:
// <repo>/<remote>.trustedkeys.gpg, else <remotes.d>/<remote>.trustedkeys.gpg,
// plus the gpgkeypath entries; only when none of those exist, the global
// trusted.gpg.d directory.
func RemoteKeyring(repoDir, remote string, opts KeyringOptions) (*Keyring, error) {
	remotesDir := opts.RemotesDir
	if remotesDir == "" {
		remotesDir = SystemRemotesDir
	}
	globalDir := opts.GlobalDir
	if globalDir == "" {
		globalDir = GlobalTrustedDir
	}
	k := &Keyring{}
	found := false
	for _, p := range []string{RemoteKeyringPath(repoDir, remote), filepath.Join(remotesDir, remote+".trustedkeys.gpg")} {
		if _, err := os.Stat(p); err == nil {
			if err := k.addPath(p); err != nil {
				return nil, err
			}
			found = true
			break
		}
	}
	for _, p := range strings.FieldsFunc(opts.GPGKeyPath, func(r rune) bool { return r == ';' || r == ',' }) {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if err := k.addPath(p); err != nil {
			return nil, err
		}
		found = true
	}
	if !found {
		if _, err := os.Stat(globalDir); err == nil {
			if err := k.addPath(globalDir); err != nil {
				return nil, err
			}
		}
	}
	return k, nil
}

// keyMatches reports whether id (hex fingerprint, long or short key id, with
// an optional 0x prefix, or a user id substring) names pk.
func keyMatches(pk *packet.PublicKey, id string) bool {
	h := strings.ToUpper(strings.TrimPrefix(strings.TrimPrefix(strings.TrimSuffix(id, "!"), "0x"), "0X"))
	fpr := fmt.Sprintf("%X", pk.Fingerprint)
	if len(h) >= 8 && isHex(h) {
		return strings.HasSuffix(fpr, h)
	}
	return false
}

func isHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// FindKey returns the entity id names (see keyMatches; a user id or e-mail
// substring also matches) and, when id names a subkey, that subkey's key id.
func findEntity(el openpgp.EntityList, id string) (*openpgp.Entity, uint64, error) {
	for _, e := range el {
		if keyMatches(e.PrimaryKey, id) {
			return e, 0, nil
		}
		for _, sk := range e.Subkeys {
			if keyMatches(sk.PublicKey, id) {
				return e, sk.PublicKey.KeyId, nil
			}
		}
	}
	lid := strings.ToLower(strings.Trim(id, "<>"))
	if lid != "" && !isHex(strings.ToUpper(strings.TrimPrefix(id, "0x"))) {
		for _, e := range el {
			for name := range e.Identities {
				if strings.Contains(strings.ToLower(name), lid) {
					return e, 0, nil
				}
			}
		}
	}
	return nil, 0, fmt.Errorf("key %q: %w", id, ErrNoKey)
}
