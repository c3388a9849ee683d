package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/porthole-dev/porthole/store"
	"github.com/porthole-dev/porthole/store/object"
)

func runStoreRefs(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, repoPath := newStoreFlags("refs", stderr)
	del := fs.Bool("delete", false, "delete the refs matching PREFIX")
	create := fs.String("create", "", "create NEWREF pointing at the given commit")
	pos, ok := parseStoreFlags(fs, args, stderr)
	if !ok {
		return 1
	}
	repo, err := openStoreRepo(ctx, *repoPath)
	if err != nil {
		return storeFail(stderr, err)
	}
	defer repo.Close()
	if *create != "" {
		if len(pos) != 1 {
			return storeFail(stderr, errors.New("usage: refs --create=NEWREF COMMIT"))
		}
		c, err := repo.ResolveRef(ctx, pos[0])
		if err != nil {
			return storeFail(stderr, err)
		}
		remote, ref := splitRefspec(*create)
		if err := repo.SetRef(ctx, remote, ref, &c); err != nil {
			return storeFail(stderr, err)
		}
		return 0
	}
	all, err := allRefs(ctx, repo)
	if err != nil {
		return storeFail(stderr, err)
	}
	names := make([]string, 0, len(all))
	for n := range all {
		if len(pos) == 0 || strings.HasPrefix(n, pos[0]) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	if *del {
		if len(pos) == 0 {
			return storeFail(stderr, errors.New("--delete needs a ref prefix"))
		}
		for _, n := range names {
			remote, ref := splitRefspec(n)
			if err := repo.SetRef(ctx, remote, ref, nil); err != nil {
				return storeFail(stderr, err)
			}
		}
		return 0
	}
	for _, n := range names {
		fmt.Fprintln(stdout, n)
	}
	return 0
}

func splitRefspec(s string) (remote, ref string) {
	if r, f, ok := strings.Cut(s, ":"); ok {
		return r, f
	}
	return "", s
}

// allRefs lists local refs by name and remote refs as REMOTE:REF.
func allRefs(ctx context.Context, repo *store.Repo) (map[string]object.Checksum, error) {
	out, err := repo.ListRefs(ctx, "")
	if err != nil {
		return nil, err
	}
	remotes, err := repo.ListRemoteRefs(ctx)
	if err != nil {
		return nil, err
	}
	for k, v := range remotes {
		out[k] = v
	}
	return out, nil
}
