package sign

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
)

func TestRemoteKeyringLookup(t *testing.T) {
	now := time.Now()
	a, b, c := entityAt(t, now, 0), entityAt(t, now, 0), entityAt(t, now, 0)
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	remotesD := filepath.Join(dir, "remotes.d")
	global := filepath.Join(dir, "trusted.gpg.d")
	for _, d := range []string{repo, remotesD, global} {
		os.MkdirAll(d, 0o755)
	}
	ser := func(path string, e *openpgp.Entity) {
		var buf bytes.Buffer
		if err := e.Serialize(&buf); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(path, buf.Bytes(), 0o644)
	}
	ser(filepath.Join(global, "g.gpg"), c)
	opts := KeyringOptions{RemotesDir: remotesD, GlobalDir: global}

	// No remote keyring: the global directory.
	kr, err := RemoteKeyring(repo, "origin", opts)
	if err != nil || kr.Len() != 1 || !kr.has(c.PrimaryKey.Fingerprint) {
		t.Fatalf("global only: %d keys, %v", kr.Len(), err)
	}
	// remotes.d keyring replaces the global one.
	ser(filepath.Join(remotesD, "origin.trustedkeys.gpg"), b)
	kr, _ = RemoteKeyring(repo, "origin", opts)
	if kr.Len() != 1 || !kr.has(b.PrimaryKey.Fingerprint) {
		t.Errorf("remotes.d: %d keys", kr.Len())
	}
	// The repo's own keyring wins over remotes.d; gpgkeypath adds to it.
	ser(RemoteKeyringPath(repo, "origin"), a)
	extra := filepath.Join(dir, "extra")
	os.MkdirAll(extra, 0o755)
	ser(filepath.Join(extra, "x.gpg"), c)
	opts.GPGKeyPath = extra + ";" + filepath.Join(global, "g.gpg")
	kr, err = RemoteKeyring(repo, "origin", opts)
	if err != nil || kr.Len() != 2 || !kr.has(a.PrimaryKey.Fingerprint) || !kr.has(c.PrimaryKey.Fingerprint) || kr.has(b.PrimaryKey.Fingerprint) {
		t.Errorf("repo keyring + gpgkeypath: %d keys, %v", kr.Len(), err)
	}
	opts.GPGKeyPath = filepath.Join(dir, "missing.gpg")
	if _, err := RemoteKeyring(repo, "origin", opts); err == nil {
		t.Error("missing gpgkeypath file: nil error")
	}
}
