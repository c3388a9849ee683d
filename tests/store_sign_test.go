package tests

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/porthole-dev/porthole/store"
	"github.com/porthole-dev/porthole/store/object"
	"github.com/porthole-dev/porthole/store/sign"
	"github.com/porthole-dev/porthole/store/storetest"
)

// TestStoreCommitGPGSign signs a commit with two keys from key files: the
// detached metadata holds two signatures that verify over the commit
// bytes, and `show` prints the same signature report as ostree.
func TestStoreCommitGPGSign(t *testing.T) {
	storeRequireOstree(t)
	dir := t.TempDir()
	var ids, files []string
	var keyring []*openpgp.Entity
	for i := 0; i < 2; i++ {
		e, err := openpgp.NewEntity(fmt.Sprint("Test ", i), "", fmt.Sprintf("t%d@example.com", i), &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := e.SerializePrivate(&buf, nil); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, fmt.Sprint("key", i))
		if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, fmt.Sprintf("%X", e.PrimaryKey.Fingerprint))
		files = append(files, p)
		keyring = append(keyring, e)
	}
	tree := storetest.MakeTree(t, filepath.Join(dir, "tree"), storetest.TreeOptions{})
	repo := filepath.Join(dir, "repo")
	storeRun(t, "init", "--repo="+repo, "--mode=archive")
	c := strings.TrimSpace(storeRun(t, "commit", "--repo="+repo, "-b", "main", "--gpg-sign="+ids[0], "--gpg-homedir="+files[0], tree))
	// Two --gpg-sign keys from one key file holding both.
	both := filepath.Join(dir, "both")
	b0, _ := os.ReadFile(files[0])
	b1, _ := os.ReadFile(files[1])
	if err := os.WriteFile(both, append(b0, b1...), 0o600); err != nil {
		t.Fatal(err)
	}
	c2 := strings.TrimSpace(storeRun(t, "commit", "--repo="+repo, "-b", "two", "--gpg-sign="+ids[0], "--gpg-sign="+ids[1], "--gpg-homedir="+both, tree))

	r, err := store.Open(context.Background(), repo)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	kr := &sign.Keyring{}
	kr.Add(keyring...)
	for commit, want := range map[string]int{c: 1, c2: 2} {
		sum, _ := object.ParseChecksum(commit)
		data, err := r.ReadMetadata(context.Background(), object.TypeCommit, sum)
		if err != nil {
			t.Fatal(err)
		}
		meta, err := r.ReadCommitMeta(context.Background(), sum)
		if err != nil {
			t.Fatal(err)
		}
		sigs, err := sign.Signatures(meta)
		if err != nil || len(sigs) != want {
			t.Fatalf("commit %s: %d signatures, %v; want %d", commit, len(sigs), err, want)
		}
		if n := sign.CountValid(kr.Verify(data, sigs, sign.VerifyOptions{})); n != want {
			t.Errorf("commit %s: %d valid signatures, want %d", commit, n, want)
		}
	}
	// Without the public keys both tools say so, in the same words.
	ours := storeRun(t, "show", "--repo="+repo, "two")
	theirs := storetest.Ostree(t, "show", "--repo="+repo, "two")
	if strings.TrimSpace(ours) != theirs || !strings.Contains(ours, "Found 2 signatures") {
		t.Errorf("show:\nours:\n%s\nostree:\n%s", ours, theirs)
	}
}
