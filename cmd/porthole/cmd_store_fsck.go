package main

import (
	"context"
	"fmt"
	"io"

	"github.com/porthole-dev/porthole/store"
)

func runStoreFsck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, repoPath := newStoreFlags("fsck", stderr)
	var opts store.FsckOptions
	fs.BoolVar(&opts.Delete, "delete", false, "remove corrupted objects")
	quiet := fs.Bool("quiet", false, "only print errors")
	fs.BoolVar(quiet, "q", false, "only print errors")
	if _, ok := parseStoreFlags(fs, args, stderr); !ok {
		return 1
	}
	repo, err := openStoreRepo(ctx, *repoPath)
	if err != nil {
		return storeFail(stderr, err)
	}
	defer repo.Close()
	if !*quiet {
		fmt.Fprintln(stdout, "Validating refs...")
	}
	prog, done := storeProgress(stderr, "Checking objects")
	opts.Progress = prog
	res, err := store.Fsck(ctx, repo, opts)
	done()
	if err != nil {
		return storeFail(stderr, err)
	}
	for _, p := range res.Corrupt {
		fmt.Fprintf(stderr, "error: corrupted object %s: %v\n", p.Object, p.Err)
	}
	for _, p := range res.Missing {
		fmt.Fprintf(stderr, "error: missing object %s\n", p.Object)
	}
	for _, ref := range res.BadRefs {
		fmt.Fprintf(stderr, "error: ref %s points to a missing commit\n", ref)
	}
	for _, n := range res.Deleted {
		fmt.Fprintf(stdout, "Deleted corrupted object %s\n", n)
	}
	if !*quiet {
		fmt.Fprintf(stdout, "Checked %d objects in %d commits; %d partial\n", res.Objects, res.Commits, len(res.Partial))
	}
	if !res.OK() {
		fmt.Fprintf(stderr, "error: %d corrupted and %d missing objects, %d bad refs\n", len(res.Corrupt), len(res.Missing), len(res.BadRefs))
		return 1
	}
	return 0
}
