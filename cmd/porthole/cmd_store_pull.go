package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/porthole-dev/porthole/internal/progress"
	"github.com/porthole-dev/porthole/store/pull"
)

func runStorePull(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, repoPath := newStoreFlags("pull", stderr)
	depth := fs.Int("depth", 0, "traverse DEPTH parents (-1 = infinite)")
	mirror := fs.Bool("mirror", false, "write refs/heads (not refs/remotes) and, without refs, pull all")
	pos, ok := parseStoreFlags(fs, args, stderr)
	if !ok {
		return 1
	}
	if len(pos) == 0 {
		return storeFail(stderr, errors.New("usage: porthole store pull --repo=R [--depth=N] [--mirror] REMOTE [REF…]"))
	}
	remote, refs := pos[0], pos[1:]
	if r, ref, ok := strings.Cut(remote, ":"); ok && len(refs) == 0 {
		remote, refs = r, []string{ref}
	}
	repo, err := openStoreRepo(ctx, *repoPath)
	if err != nil {
		return storeFail(stderr, err)
	}
	defer repo.Close()
	var bar *progress.Bar
	if f, ok := stderr.(*os.File); ok {
		bar = progress.New(f, "Receiving objects:", progress.Options{})
	}
	opts := pull.Options{Depth: *depth, Mirror: *mirror}
	if bar != nil {
		opts.Progress = bar
	}
	start := time.Now()
	res, err := pull.Pull(ctx, repo, remote, refs, opts)
	if err != nil {
		bar.Clear()
		return storeFail(stderr, err)
	}
	bar.Done()
	fmt.Fprintf(stdout, "%d objects fetched; %s transferred in %d seconds\n",
		res.Fetched, progress.FormatBytes(res.Bytes), int(time.Since(start).Seconds()))
	return 0
}
