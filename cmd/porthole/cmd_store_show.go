package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/porthole-dev/porthole/internal/gvariant"
	"github.com/porthole-dev/porthole/store"
	"github.com/porthole-dev/porthole/store/object"
	"github.com/porthole-dev/porthole/store/sign"
)

func runStoreShow(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, repoPath := newStoreFlags("show", stderr)
	key := fs.String("print-metadata-key", "", "print the value of a commit metadata key")
	dkey := fs.String("print-detached-metadata-key", "", "print the value of a detached metadata key")
	raw := fs.Bool("raw", false, "print the commit as a GVariant")
	pos, ok := parseStoreFlags(fs, args, stderr)
	if !ok {
		return 1
	}
	if len(pos) != 1 {
		return storeFail(stderr, errors.New("usage: show REV"))
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
	cm, err := object.UnmarshalCommit(data)
	if err != nil {
		return storeFail(stderr, err)
	}
	printKey := func(md object.Metadata, k string) int {
		e, ok := md.Lookup(k)
		if !ok {
			return storeFail(stderr, fmt.Errorf("no such metadata key '%s'", k))
		}
		v, err := e.Variant()
		if err != nil {
			return storeFail(stderr, err)
		}
		fmt.Fprintln(stdout, v.String())
		return 0
	}
	switch {
	case *key != "":
		return printKey(cm.Metadata, *key)
	case *dkey != "":
		dm, err := repo.ReadCommitMeta(ctx, c)
		if err != nil {
			return storeFail(stderr, err)
		}
		md, err := object.UnmarshalMetadata(dm)
		if err != nil {
			return storeFail(stderr, err)
		}
		return printKey(md, *dkey)
	case *raw:
		v, err := gvariant.Unmarshal(gvariant.MustType("(a{sv}aya(say)sstayay)"), data)
		if err != nil {
			return storeFail(stderr, err)
		}
		fmt.Fprintf(stdout, "commit %s\n%s\n", c, v)
		return 0
	}
	printCommit(stdout, c, &cm)
	showSignatures(ctx, repo, c, data, stdout)
	return 0
}

// showSignatures prints "Found N signature(s):" and one block per
// signature in the commit's detached metadata, checked against the keyrings
// of every remote of the repository and the global trusted keys, like
// ostree show. Nothing is printed for an unsigned commit.
func showSignatures(ctx context.Context, repo *store.Repo, c object.Checksum, commit []byte, w io.Writer) {
	dm, err := repo.ReadCommitMeta(ctx, c)
	if err != nil {
		return
	}
	sigs, err := sign.Signatures(dm)
	if err != nil || len(sigs) == 0 {
		return
	}
	paths, _ := filepath.Glob(filepath.Join(repo.Path(), "*.trustedkeys.gpg"))
	global, _ := filepath.Glob(filepath.Join(sign.GlobalTrustedDir, "*.gpg"))
	var existing []string
	for _, p := range append(paths, global...) {
		if _, err := os.Stat(p); err == nil {
			existing = append(existing, p)
		}
	}
	kr, err := sign.LoadKeyring(existing...)
	if err != nil {
		kr, _ = sign.LoadKeyring()
	}
	if kr == nil {
		return
	}
	fmt.Fprint(w, sign.Describe(kr.Verify(commit, sigs, sign.VerifyOptions{})))
}
