package sign

import (
	"bufio"
	"bytes"
	"crypto/rsa"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/ecdsa"
	"github.com/ProtonMail/go-crypto/openpgp/eddsa"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// readHomePublicKeys reads the public keys of a GnuPG home: pubring.kbx
// (GnuPG ≥ 2.1) and pubring.gpg (older homes).
func readHomePublicKeys(home string) (openpgp.EntityList, error) {
	var all openpgp.EntityList
	found := false
	if data, err := os.ReadFile(filepath.Join(home, "pubring.kbx")); err == nil {
		found = true
		blocks, err := keyboxKeyblocks(data)
		if err != nil {
			return nil, fmt.Errorf("reading %s/pubring.kbx: %w", home, err)
		}
		for _, b := range blocks {
			el, err := openpgp.ReadKeyRing(bytes.NewReader(b))
			if err != nil {
				continue // an unsupported key (e.g. v5) must not hide the others
			}
			all = append(all, el...)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("reading public keys: %w", err)
	}
	if data, err := os.ReadFile(filepath.Join(home, "pubring.gpg")); err == nil {
		found = true
		if len(data) > 0 {
			el, err := openpgp.ReadKeyRing(bytes.NewReader(data))
			if err != nil {
				return nil, fmt.Errorf("reading %s/pubring.gpg: %w", home, err)
			}
			all = append(all, el...)
		}
	}
	if !found {
		return nil, fmt.Errorf("no pubring.kbx or pubring.gpg in %s: %w", home, ErrNoKey)
	}
	return all, nil
}

// Keybox blob types (GnuPG kbx format).
const (
	kbxBlobEmpty   = 0
	kbxBlobHeader  = 1
	kbxBlobOpenPGP = 2
)

// keyboxKeyblocks splits a keybox file into the OpenPGP keyblocks its blobs
// carry. Each blob starts with a big-endian u32 length (the whole blob), a
// type byte and a version byte; an OpenPGP blob then has u16 flags and the
// u32 offset and u32 length of its keyblock, relative to the blob's start.
func keyboxKeyblocks(data []byte) ([][]byte, error) {
	var out [][]byte
	for off := 0; off < len(data); {
		if len(data)-off < 6 {
			return nil, fmt.Errorf("truncated keybox blob at %d", off)
		}
		n := int(binary.BigEndian.Uint32(data[off:]))
		if n < 6 || n > len(data)-off {
			return nil, fmt.Errorf("bad keybox blob length %d at %d", n, off)
		}
		blob := data[off : off+n]
		switch blob[4] {
		case kbxBlobOpenPGP:
			if n < 16 {
				return nil, fmt.Errorf("short OpenPGP keybox blob at %d", off)
			}
			kbOff := int(binary.BigEndian.Uint32(blob[8:]))
			kbLen := int(binary.BigEndian.Uint32(blob[12:]))
			if kbOff < 0 || kbLen < 0 || kbOff > n || kbLen > n-kbOff {
				return nil, fmt.Errorf("bad keyblock bounds in keybox blob at %d", off)
			}
			out = append(out, blob[kbOff:kbOff+kbLen])
		case kbxBlobEmpty, kbxBlobHeader:
		default: // X.509 and future blob types
		}
		off += n
	}
	return out, nil
}

// parseSecretKey reads a private-keys-v1.d/<keygrip>.key file, in the
// extended key format ("Key: (private-key …)" with continuation lines) or
// the older canonical S-expression, and returns the key S-expression.
func parseSecretKey(data []byte) (*sexp, error) {
	keyText := data
	if len(data) > 0 && data[0] != '(' {
		// Extended key format: RFC 822-like "Name: value" items; lines
		// starting with white space continue the previous value.
		var cur string
		var key strings.Builder
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if line == "" || strings.HasPrefix(line, "#") {
				cur = ""
				continue
			}
			if line[0] == ' ' || line[0] == '\t' {
				if cur == "key" {
					key.WriteString(line)
					key.WriteByte('\n')
				}
				continue
			}
			name, value, ok := strings.Cut(line, ":")
			if !ok {
				return nil, fmt.Errorf("%w: bad line in extended key file", errSexp)
			}
			cur = strings.ToLower(name)
			if cur == "key" {
				key.WriteString(value)
				key.WriteByte('\n')
			}
		}
		if err := sc.Err(); err != nil {
			return nil, err
		}
		if key.Len() == 0 {
			return nil, fmt.Errorf("%w: no Key item", errSexp)
		}
		keyText = []byte(key.String())
	}
	s, err := parseSexp(keyText)
	if err != nil {
		return nil, err
	}
	switch s.head() {
	case "private-key":
		return s, nil
	case "protected-private-key":
		return nil, ErrKeyProtected
	case "shadowed-private-key":
		return nil, fmt.Errorf("%w (the key is on a smartcard)", ErrKeyProtected)
	default:
		return nil, fmt.Errorf("%w: unknown key type %q", errSexp, s.head())
	}
}

// privateFromSexp builds the go-crypto private key for pub from a libgcrypt
// private-key S-expression, or returns nil, nil when the S-expression holds
// a different key. It returns ErrKeyProtected-wrapped errors unchanged.
func privateFromSexp(s *sexp, pub *packet.PublicKey) (*packet.PrivateKey, error) {
	if len(s.list) < 2 || !s.list[1].isList {
		return nil, fmt.Errorf("%w: empty private-key", errSexp)
	}
	alg := s.list[1]
	mpi := func(name string) *big.Int {
		v := alg.value(name)
		if v == nil {
			return nil
		}
		return new(big.Int).SetBytes(v)
	}
	switch alg.head() {
	case "rsa":
		rp, ok := pub.PublicKey.(*rsa.PublicKey)
		if !ok {
			return nil, nil
		}
		n, e, d, p, q := mpi("n"), mpi("e"), mpi("d"), mpi("p"), mpi("q")
		if n == nil || e == nil || d == nil || p == nil || q == nil {
			return nil, fmt.Errorf("%w: incomplete RSA key", errSexp)
		}
		if n.Cmp(rp.N) != 0 || !e.IsInt64() || int(e.Int64()) != rp.E {
			return nil, nil
		}
		priv := &rsa.PrivateKey{PublicKey: *rp, D: d, Primes: []*big.Int{p, q}}
		if err := priv.Validate(); err != nil {
			return nil, fmt.Errorf("invalid RSA secret key: %w", err)
		}
		priv.Precompute()
		return &packet.PrivateKey{PublicKey: *pub, PrivateKey: priv}, nil
	case "ecc", "ecdsa", "eddsa":
		q, d := alg.value("q"), alg.value("d")
		if q == nil || d == nil {
			return nil, fmt.Errorf("%w: incomplete ECC key", errSexp)
		}
		switch pk := pub.PublicKey.(type) {
		case *eddsa.PublicKey:
			if !bytes.Equal(trimPoint(q), trimPoint(pk.MarshalPoint())) {
				return nil, nil
			}
			priv := eddsa.NewPrivateKey(*pk)
			size := len(pk.MarshalPoint()) - 1
			if size > 0 && len(d) < size {
				d = append(make([]byte, size-len(d)), d...)
			}
			if err := priv.UnmarshalByteSecret(d); err != nil {
				return nil, fmt.Errorf("invalid EdDSA secret key: %w", err)
			}
			return &packet.PrivateKey{PublicKey: *pub, PrivateKey: priv}, nil
		case *ecdsa.PublicKey:
			if !bytes.Equal(q, pk.MarshalPoint()) {
				return nil, nil
			}
			priv := ecdsa.NewPrivateKey(*pk)
			if err := priv.UnmarshalIntegerSecret(d); err != nil {
				return nil, fmt.Errorf("invalid ECDSA secret key: %w", err)
			}
			return &packet.PrivateKey{PublicKey: *pub, PrivateKey: priv}, nil
		}
		return nil, nil
	}
	return nil, nil
}

// trimPoint drops the 0x40 "native" prefix of an EdDSA point.
func trimPoint(p []byte) []byte {
	if len(p) == 33 && p[0] == 0x40 {
		return p[1:]
	}
	return p
}

// attachHomeSecrets looks through <home>/private-keys-v1.d for the secret
// parts of e's primary key and subkeys and attaches those found. It reports
// whether any key was protected (so the caller can say so).
func attachHomeSecrets(home string, e *openpgp.Entity) (attached int, protected bool, err error) {
	files, err := filepath.Glob(filepath.Join(home, "private-keys-v1.d", "*.key"))
	if err != nil {
		return 0, false, err
	}
	keys := []*packet.PublicKey{e.PrimaryKey}
	for _, sk := range e.Subkeys {
		keys = append(keys, sk.PublicKey)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		s, err := parseSecretKey(raw)
		if errors.Is(err, ErrKeyProtected) {
			if secretFileMatchesAny(raw, keys) {
				protected = true
			}
			continue
		}
		if err != nil {
			continue
		}
		for i, pk := range keys {
			priv, err := privateFromSexp(s, pk)
			if err != nil || priv == nil {
				continue
			}
			if i == 0 {
				e.PrivateKey = priv
			} else {
				e.Subkeys[i-1].PrivateKey = priv
			}
			attached++
		}
	}
	return attached, protected, nil
}

// secretFileMatchesAny reports whether a protected key file holds the public
// parameters of one of keys (the public half of a protected key is clear).
func secretFileMatchesAny(raw []byte, keys []*packet.PublicKey) bool {
	text := raw
	if len(raw) > 0 && raw[0] != '(' {
		if i := bytes.Index(raw, []byte("Key:")); i >= 0 {
			text = raw[i+4:]
		}
	}
	s, err := parseSexp(text)
	if err != nil || len(s.list) < 2 || !s.list[1].isList {
		return false
	}
	alg := s.list[1]
	for _, pk := range keys {
		switch p := pk.PublicKey.(type) {
		case *rsa.PublicKey:
			if n := alg.value("n"); n != nil && new(big.Int).SetBytes(n).Cmp(p.N) == 0 {
				return true
			}
		case *eddsa.PublicKey:
			if q := alg.value("q"); q != nil && bytes.Equal(trimPoint(q), trimPoint(p.MarshalPoint())) {
				return true
			}
		case *ecdsa.PublicKey:
			if q := alg.value("q"); q != nil && bytes.Equal(q, p.MarshalPoint()) {
				return true
			}
		}
	}
	return false
}
