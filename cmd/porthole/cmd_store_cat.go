package main

import (
	"context"
	"errors"
	"fmt"
	"io"
)

func runStoreCat(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, repoPath := newStoreFlags("cat", stderr)
	pos, ok := parseStoreFlags(fs, args, stderr)
	if !ok {
		return 1
	}
	if len(pos) < 2 {
		return storeFail(stderr, errors.New("usage: cat COMMIT PATH…"))
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
	cm, err := loadCommit(ctx, repo, c)
	if err != nil {
		return storeFail(stderr, err)
	}
	for _, p := range pos[1:] {
		e, err := lookupPath(ctx, repo, &cm, p)
		if err != nil {
			return storeFail(stderr, err)
		}
		if e.isDir {
			return storeFail(stderr, fmt.Errorf("%s: is a directory", p))
		}
		_, rc, err := repo.OpenContent(ctx, e.file)
		if err != nil {
			return storeFail(stderr, err)
		}
		_, err = io.Copy(stdout, rc)
		rc.Close()
		if err != nil {
			return storeFail(stderr, err)
		}
	}
	return 0
}
