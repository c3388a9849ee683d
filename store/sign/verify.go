package sign

import (
	"bytes"
	stderrors "errors"
	"fmt"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Result is what checking one detached signature found. The fields follow
// ostree's signature attributes.
type Result struct {
	// Valid: a good signature from a key in the keyring that is neither
	// expired nor revoked, and the signature itself has not expired.
	Valid      bool
	KeyMissing bool // no key in the keyring has the issuer's key id
	SigExpired bool
	KeyExpired bool
	KeyRevoked bool
	// Fingerprint of the signing key (a subkey, maybe) as upper-case hex; when
	// the key is missing, the issuer fingerprint or key id the signature names.
	Fingerprint        string
	PrimaryFingerprint string // of the primary key; empty when the key is missing
	PubKeyAlgo         string // gpgme's names: "RSA", "EdDSA", "ECDSA", "DSA" …
	UserName           string // of the primary user id
	UserEmail          string
	Created            time.Time
	SigExpires         time.Time // zero when the signature does not expire
	KeyExpires         time.Time // signing key; zero when it does not expire
	PrimaryKeyExpires  time.Time
	// Err says why the signature is not valid; nil when Valid.
	Err error
}

// KeyID is the last 16 hex digits of the fingerprint.
func (r Result) KeyID() string {
	if len(r.Fingerprint) > 16 {
		return r.Fingerprint[len(r.Fingerprint)-16:]
	}
	return r.Fingerprint
}

// VerifyOptions tune Verify.
type VerifyOptions struct {
	// Now is the time expiry is judged at; zero means time.Now().
	Now time.Time
}

// Verify checks each detached signature over data against the keyring and
// returns one Result per signature, in order. It never fails as a whole:
// unreadable signatures give a Result with Err set.
func (k *Keyring) Verify(data []byte, sigs [][]byte, opts VerifyOptions) []Result {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	out := make([]Result, 0, len(sigs))
	for _, s := range sigs {
		out = append(out, k.verifyOne(data, s, now))
	}
	return out
}

// CountValid is the number of valid results.
func CountValid(rs []Result) int {
	n := 0
	for _, r := range rs {
		if r.Valid {
			n++
		}
	}
	return n
}

// RequireValid returns nil when at least one result is valid, else an error
// wrapping ErrNoSignatures or ErrBadSignature whose text describes the
// signatures like ostree does.
func RequireValid(rs []Result) error {
	if len(rs) == 0 {
		return fmt.Errorf("GPG verification enabled, but %w", ErrNoSignatures)
	}
	if CountValid(rs) > 0 {
		return nil
	}
	var b strings.Builder
	for i := len(rs) - 1; i >= 0; i-- {
		describeOne(&b, rs[i], "")
	}
	return fmt.Errorf("%w: %s", ErrBadSignature, strings.TrimRight(b.String(), "\n"))
}

func algoName(a packet.PublicKeyAlgorithm) string {
	switch a {
	case packet.PubKeyAlgoRSA, packet.PubKeyAlgoRSASignOnly, packet.PubKeyAlgoRSAEncryptOnly:
		return "RSA"
	case packet.PubKeyAlgoDSA:
		return "DSA"
	case packet.PubKeyAlgoECDSA:
		return "ECDSA"
	case packet.PubKeyAlgoEdDSA, packet.PubKeyAlgoEd25519, packet.PubKeyAlgoEd448:
		return "EdDSA"
	case packet.PubKeyAlgoElGamal:
		return "ELG"
	case packet.PubKeyAlgoECDH:
		return "ECDH"
	}
	return "unknown"
}

func (k *Keyring) verifyOne(data, raw []byte, now time.Time) Result {
	var r Result
	p, err := packet.Read(bytes.NewReader(raw))
	if err != nil {
		r.Err = fmt.Errorf("unreadable signature: %w", err)
		r.PubKeyAlgo = "unknown"
		return r
	}
	sig, ok := p.(*packet.Signature)
	if !ok {
		r.Err = fmt.Errorf("unreadable signature: packet is %T", p)
		r.PubKeyAlgo = "unknown"
		return r
	}
	r.PubKeyAlgo = algoName(sig.PubKeyAlgo)
	r.Created = sig.CreationTime
	if sig.SigLifetimeSecs != nil && *sig.SigLifetimeSecs != 0 {
		r.SigExpires = sig.CreationTime.Add(time.Duration(*sig.SigLifetimeSecs) * time.Second)
	}
	if len(sig.IssuerFingerprint) > 0 {
		r.Fingerprint = fmt.Sprintf("%X", sig.IssuerFingerprint)
	} else if sig.IssuerKeyId != nil {
		r.Fingerprint = fmt.Sprintf("%016X", *sig.IssuerKeyId)
	}
	if sig.IssuerKeyId == nil {
		r.KeyMissing = true
		r.Err = stderrors.New("signature names no issuer")
		return r
	}
	var el openpgp.EntityList
	if k != nil {
		el = k.entities
	}
	keys := el.KeysById(*sig.IssuerKeyId)
	if len(keys) == 0 {
		r.KeyMissing = true
		r.Err = fmt.Errorf("public key %s not found", r.KeyID())
		return r
	}
	key := keys[0]
	r.Fingerprint = fmt.Sprintf("%X", key.PublicKey.Fingerprint)
	r.PrimaryFingerprint = fmt.Sprintf("%X", key.Entity.PrimaryKey.Fingerprint)
	if id := key.Entity.PrimaryIdentity(); id != nil {
		r.UserName, r.UserEmail = id.UserId.Name, id.UserId.Email
		if r.UserName == "" && r.UserEmail == "" {
			r.UserName = id.Name
		}
	}
	if self, _ := key.Entity.PrimarySelfSignature(); self != nil && self.KeyLifetimeSecs != nil && *self.KeyLifetimeSecs != 0 {
		r.PrimaryKeyExpires = key.Entity.PrimaryKey.CreationTime.Add(time.Duration(*self.KeyLifetimeSecs) * time.Second)
	}
	r.KeyExpires = r.PrimaryKeyExpires
	if key.PublicKey != key.Entity.PrimaryKey && key.SelfSignature != nil {
		r.KeyExpires = time.Time{}
		if l := key.SelfSignature.KeyLifetimeSecs; l != nil && *l != 0 {
			r.KeyExpires = key.PublicKey.CreationTime.Add(time.Duration(*l) * time.Second)
		}
	}
	cfg := &packet.Config{Time: func() time.Time { return now }}
	_, err = openpgp.CheckDetachedSignature(el, bytes.NewReader(data), bytes.NewReader(raw), cfg)
	switch {
	case err == nil:
		r.Valid = true
	case stderrors.Is(err, pgperrors.ErrKeyRevoked):
		r.KeyRevoked = true
	case stderrors.Is(err, pgperrors.ErrKeyExpired):
		r.KeyExpired = true
	case stderrors.Is(err, pgperrors.ErrSignatureExpired):
		r.SigExpired = true
	case stderrors.Is(err, pgperrors.ErrUnknownIssuer):
		// The key exists but cannot sign (no signing capability).
	}
	if err != nil {
		r.Err = err
	}
	return r
}

// cDate formats t like C's %c in the C locale ("Thu Nov 26 18:30:34 2026"),
// in local time as ostree prints it.
func cDate(t time.Time) string { return t.Local().Format("Mon Jan _2 15:04:05 2006") }

// Describe writes the signature report ostree prints (ostree show,
// ostree summary --view): "Found N signature(s):" then one indented block
// per signature, each preceded by a blank line.
func Describe(rs []Result) string {
	var b strings.Builder
	s := "s"
	if len(rs) == 1 {
		s = ""
	}
	fmt.Fprintf(&b, "Found %d signature%s:\n", len(rs), s)
	for _, r := range rs {
		b.WriteByte('\n')
		describeOne(&b, r, "  ")
	}
	return b.String()
}

func describeOne(b *strings.Builder, r Result, prefix string) {
	fmt.Fprintf(b, "%sSignature made %s using %s key ID %s\n", prefix, cDate(r.Created), r.PubKeyAlgo, r.KeyID())
	b.WriteString(prefix)
	switch {
	case r.KeyMissing:
		b.WriteString("Can't check signature: public key not found\n")
	case r.Valid:
		fmt.Fprintf(b, "Good signature from \"%s <%s>\"\n", r.UserName, r.UserEmail)
	case r.KeyRevoked:
		b.WriteString("Key revoked\n")
	case r.SigExpired:
		fmt.Fprintf(b, "Expired signature from \"%s <%s>\"\n", r.UserName, r.UserEmail)
	default:
		fmt.Fprintf(b, "BAD signature from \"%s <%s>\"\n", r.UserName, r.UserEmail)
	}
	subkey := !r.KeyMissing && r.Fingerprint != r.PrimaryFingerprint
	if subkey {
		id := r.PrimaryFingerprint
		if len(id) > 16 {
			id = id[len(id)-16:]
		}
		fmt.Fprintf(b, "%sPrimary key ID %s\n", prefix, id)
	}
	expire := func(what string, t time.Time, expired bool) {
		verb := "expires"
		if expired {
			verb = "expired"
		}
		fmt.Fprintf(b, "%s%s %s %s\n", prefix, what, verb, cDate(t))
	}
	if !r.SigExpires.IsZero() {
		expire("Signature", r.SigExpires, r.SigExpired)
	}
	if !r.KeyExpires.IsZero() {
		expire("Key", r.KeyExpires, r.KeyExpired)
	}
	if subkey && !r.PrimaryKeyExpires.IsZero() {
		expire("Primary key", r.PrimaryKeyExpires, r.KeyExpired)
	}
}
