package main

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/porthole-dev/porthole/internal/progress"
	"github.com/porthole-dev/porthole/store"
)

func runStorePrune(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, repoPath := newStoreFlags("prune", stderr)
	opts := store.PruneOptions{Depth: -1}
	fs.BoolVar(&opts.RefsOnly, "refs-only", false, "only keep what refs reach")
	fs.IntVar(&opts.Depth, "depth", -1, "parents to keep per commit (-1: all)")
	fs.BoolVar(&opts.DryRun, "no-prune", false, "only report what would be deleted")
	keep := fs.String("keep-younger-than", "", "delete commits older than DATE that no ref points at")
	if _, ok := parseStoreFlags(fs, args, stderr); !ok {
		return 1
	}
	if *keep != "" {
		t, err := parseStoreTime(*keep)
		if err != nil {
			return storeFail(stderr, err)
		}
		opts.KeepYoungerThan = t
	}
	repo, err := openStoreRepo(ctx, *repoPath)
	if err != nil {
		return storeFail(stderr, err)
	}
	defer repo.Close()
	res, err := store.Prune(ctx, repo, opts)
	if err != nil {
		return storeFail(stderr, err)
	}
	if res.Deleted == 0 {
		fmt.Fprintln(stdout, "No unreachable objects")
	} else {
		fmt.Fprintf(stdout, "Total objects: %s\nDeleted %d objects, %s freed\n", strconv.Itoa(res.Total), res.Deleted, progress.FormatBytes(res.Freed))
	}
	return 0
}
