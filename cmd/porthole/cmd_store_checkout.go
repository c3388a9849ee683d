package main

import (
	"context"
	"errors"
	"io"

	"github.com/porthole-dev/porthole/store"
)

func runStoreCheckout(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, repoPath := newStoreFlags("checkout", stderr)
	var opts store.CheckoutOptions
	fs.BoolVar(&opts.UserMode, "U", false, "do not change file ownership or set xattrs")
	fs.BoolVar(&opts.UserMode, "user-mode", false, "do not change file ownership or set xattrs")
	fs.BoolVar(&opts.RequireHardlinks, "require-hardlinks", false, "fail instead of copying when hard links are impossible")
	fs.BoolVar(&opts.Union, "union", false, "keep existing directories, overwrite existing files")
	fs.StringVar(&opts.Subpath, "subpath", "", "check out only this subdirectory")
	pos, ok := parseStoreFlags(fs, args, stderr)
	if !ok {
		return 1
	}
	if len(pos) < 1 || len(pos) > 2 {
		return storeFail(stderr, errors.New("usage: checkout [OPTION…] COMMIT [DESTINATION]"))
	}
	dest := pos[0]
	if len(pos) == 2 {
		dest = pos[1]
	}
	repo, err := openStoreRepo(ctx, *repoPath)
	if err != nil {
		return storeFail(stderr, err)
	}
	defer repo.Close()
	prog, done := storeProgress(stderr, "Checking out")
	opts.Progress = prog
	err = store.Checkout(ctx, repo, pos[0], dest, opts)
	done()
	if err != nil {
		return storeFail(stderr, err)
	}
	return 0
}
