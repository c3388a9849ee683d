package sign

import (
	"context"
	"crypto"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

func entityAt(t *testing.T, created time.Time, keyLife uint32) *openpgp.Entity {
	t.Helper()
	e, err := openpgp.NewEntity("Timed", "", "timed@example.com", &packet.Config{
		Algorithm: packet.PubKeyAlgoEdDSA, DefaultHash: crypto.SHA256,
		Time: func() time.Time { return created }, KeyLifetimeSecs: keyLife,
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func signAt(t *testing.T, e *openpgp.Entity, at time.Time, data []byte) []byte {
	t.Helper()
	s := &Signer{entity: e, now: func() time.Time { return at }}
	sig, err := s.Sign(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

func TestVerifyExpiredAndRevoked(t *testing.T) {
	data := []byte("commit")
	created := time.Now().Add(-48 * time.Hour)

	expiring := entityAt(t, created, 3600) // expired a day ago
	sig := signAt(t, expiring, created.Add(time.Minute), data)
	kr := &Keyring{}
	kr.Add(expiring)
	r := kr.Verify(data, [][]byte{sig}, VerifyOptions{})[0]
	if r.Valid || !r.KeyExpired || r.KeyExpires.IsZero() {
		t.Errorf("expired key: %+v", r)
	}
	if d := Describe([]Result{r}); !strings.Contains(d, "BAD signature from") || !strings.Contains(d, "Key expired ") {
		t.Errorf("Describe(expired key) = %s", d)
	}
	// Judged at signing time the same signature is good.
	if r := kr.Verify(data, [][]byte{sig}, VerifyOptions{Now: created.Add(2 * time.Minute)})[0]; !r.Valid {
		t.Errorf("at signing time: %+v", r)
	}

	revoked := entityAt(t, created, 0)
	sig = signAt(t, revoked, created.Add(time.Minute), data)
	if err := revoked.RevokeKey(packet.KeyCompromised, "test", &packet.Config{Time: func() time.Time { return created.Add(time.Hour) }}); err != nil {
		t.Fatal(err)
	}
	kr = &Keyring{}
	kr.Add(revoked)
	r = kr.Verify(data, [][]byte{sig}, VerifyOptions{})[0]
	if r.Valid || !r.KeyRevoked {
		t.Errorf("revoked key: %+v", r)
	}
	if d := Describe([]Result{r}); !strings.Contains(d, "Key revoked\n") {
		t.Errorf("Describe(revoked) = %s", d)
	}
	if err := RequireValid([]Result{r}); err == nil {
		t.Error("RequireValid(revoked) = nil")
	}
}
