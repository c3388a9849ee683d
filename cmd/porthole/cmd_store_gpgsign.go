package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/porthole-dev/porthole/internal/gvariant"
	"github.com/porthole-dev/porthole/store"
	"github.com/porthole-dev/porthole/store/object"
	"github.com/porthole-dev/porthole/store/sign"
	"github.com/porthole-dev/porthole/store/summary"
)

func runStoreGPGSign(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, repoPath := newStoreFlags("gpg-sign", stderr)
	home := fs.String("gpg-homedir", "", "GnuPG home directory (or secret key file) holding the keys")
	pos, ok := parseStoreFlags(fs, args, stderr)
	if !ok {
		return 1
	}
	if len(pos) < 2 {
		return storeFail(stderr, errors.New("usage: porthole store gpg-sign --repo=R COMMIT KEY-ID…"))
	}
	repo, err := openStoreRepo(ctx, *repoPath)
	if err != nil {
		return storeFail(stderr, err)
	}
	defer repo.Close()
	c, err := repo.ResolveRef(ctx, pos[0])
	if err != nil {
		return storeFail(stderr, err)
	}
	data, err := repo.ReadMetadata(ctx, object.TypeCommit, c)
	if err != nil {
		return storeFail(stderr, err)
	}
	meta, err := repo.ReadCommitMeta(ctx, c)
	if err != nil && !errors.Is(err, store.ErrObjectNotFound) {
		return storeFail(stderr, err)
	}
	for _, keyID := range pos[1:] {
		s, err := sign.LoadSigner(keyID, *home)
		if err != nil {
			return storeFail(stderr, err)
		}
		existing, err := sign.Signatures(meta)
		if err != nil {
			return storeFail(stderr, err)
		}
		own := &sign.Keyring{}
		own.Add(s.Entity())
		if sign.CountValid(own.Verify(data, existing, sign.VerifyOptions{})) > 0 {
			return storeFail(stderr, fmt.Errorf("commit %s is already signed with GPG key %s", c, keyID))
		}
		sig, err := s.Sign(ctx, data)
		if err != nil {
			return storeFail(stderr, err)
		}
		if meta, err = sign.AppendSignature(meta, sig); err != nil {
			return storeFail(stderr, err)
		}
	}
	if err := repo.WriteCommitMeta(ctx, c, meta); err != nil {
		return storeFail(stderr, err)
	}
	return 0
}

// summaryVariant prints the raw summary variant (summary --raw).
func summaryVariant(data []byte) (string, error) {
	v, err := gvariant.Unmarshal(summary.Type, data)
	if err != nil {
		return "", err
	}
	return v.String(), nil
}
