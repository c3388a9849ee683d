package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/porthole-dev/porthole/store/sign"
	"github.com/porthole-dev/porthole/store/summary"
)

func runStoreSummary(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, repoPath := newStoreFlags("summary", stderr)
	var update, view, raw bool
	fs.BoolVar(&update, "u", false, "update the summary")
	fs.BoolVar(&update, "update", false, "update the summary")
	fs.BoolVar(&view, "v", false, "view the local summary file")
	fs.BoolVar(&view, "view", false, "view the local summary file")
	fs.BoolVar(&raw, "raw", false, "view the raw summary variant")
	var keys, meta stringList
	fs.Var(&keys, "gpg-sign", "GPG key id to sign the summary with (repeatable)")
	home := fs.String("gpg-homedir", "", "GnuPG home directory (or secret key file) holding the keys")
	fs.Var(&meta, "m", "additional metadata KEY=VALUE (GVariant text)")
	fs.Var(&meta, "add-metadata", "additional metadata KEY=VALUE (GVariant text)")
	if _, ok := parseStoreFlags(fs, args, stderr); !ok {
		return 1
	}
	repo, err := openStoreRepo(ctx, *repoPath)
	if err != nil {
		return storeFail(stderr, err)
	}
	defer repo.Close()
	var signers []summary.Signer
	for _, k := range keys {
		s, err := sign.LoadSigner(k, *home)
		if err != nil {
			return storeFail(stderr, err)
		}
		signers = append(signers, s)
	}
	switch {
	case update:
		var extra []summary.Entry
		for _, kv := range meta {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return storeFail(stderr, fmt.Errorf("bad metadata %q, want KEY=VALUE", kv))
			}
			val, err := summary.ParseValue(v)
			if err != nil {
				return storeFail(stderr, err)
			}
			extra = append(extra, summary.Entry{Key: k, Value: val})
		}
		if _, err := summary.Generate(ctx, repo, summary.Options{Metadata: extra, Signers: signers}); err != nil {
			return storeFail(stderr, err)
		}
	case view || raw:
		data, err := os.ReadFile(filepath.Join(repo.Path(), summary.FileName))
		if err != nil {
			return storeFail(stderr, fmt.Errorf("no summary file: %w", err))
		}
		if raw {
			v, err := summaryVariant(data)
			if err != nil {
				return storeFail(stderr, err)
			}
			fmt.Fprintln(stdout, v)
			return 0
		}
		if err := summary.View(stdout, data); err != nil {
			return storeFail(stderr, err)
		}
	case len(signers) > 0:
		for _, s := range signers {
			if err := summary.AddSignature(ctx, repo.Path(), s); err != nil {
				return storeFail(stderr, err)
			}
		}
	default:
		return storeFail(stderr, errors.New("no option specified; use -u to update the summary"))
	}
	return 0
}
