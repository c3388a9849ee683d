package main

import (
	"context"
	"errors"
	"fmt"
	"io"
)

func runStoreRevParse(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, repoPath := newStoreFlags("rev-parse", stderr)
	pos, ok := parseStoreFlags(fs, args, stderr)
	if !ok {
		return 1
	}
	if len(pos) != 1 {
		return storeFail(stderr, errors.New("usage: rev-parse REV"))
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
	fmt.Fprintln(stdout, c)
	return 0
}
