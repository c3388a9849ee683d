package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/porthole-dev/porthole/store/pull"
)

func runStoreRemote(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		return storeFail(stderr, errors.New("usage: porthole store remote add|delete|list|show-url …"))
	}
	switch args[0] {
	case "add":
		return runStoreRemoteAdd(ctx, args[1:], stdout, stderr)
	case "delete":
		return runStoreRemoteDelete(ctx, args[1:], stdout, stderr)
	case "list":
		return runStoreRemoteList(ctx, args[1:], stdout, stderr)
	case "show-url":
		return runStoreRemoteShowURL(ctx, args[1:], stdout, stderr)
	}
	return storeFail(stderr, fmt.Errorf("unknown remote command %q", args[0]))
}

func runStoreRemoteAdd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, repoPath := newStoreFlags("remote add", stderr)
	noVerify := fs.Bool("no-gpg-verify", false, "disable GPG verification")
	ifNotExists := fs.Bool("if-not-exists", false, "do nothing if the remote exists")
	var imports, sets stringList
	fs.Var(&imports, "gpg-import", "import GPG keys from FILE into the remote's keyring")
	fs.Var(&sets, "set", "set config option KEY=VALUE for the remote")
	pos, ok := parseStoreFlags(fs, args, stderr)
	if !ok {
		return 1
	}
	if len(pos) < 2 {
		return storeFail(stderr, errors.New("usage: porthole store remote add --repo=R NAME URL [BRANCH…]"))
	}
	opts := pull.AddOptions{NoGPGVerify: *noVerify, IfNotExists: *ifNotExists}
	if len(pos) > 2 {
		opts.Set = append(opts.Set, [2]string{"branches", strings.Join(pos[2:], ";") + ";"})
	}
	for _, kv := range sets {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return storeFail(stderr, fmt.Errorf("bad --set %q, want KEY=VALUE", kv))
		}
		opts.Set = append(opts.Set, [2]string{k, v})
	}
	for _, f := range imports {
		data, err := os.ReadFile(f)
		if err != nil {
			return storeFail(stderr, err)
		}
		opts.GPGImport = append(opts.GPGImport, data...)
	}
	repo, err := openStoreRepo(ctx, *repoPath)
	if err != nil {
		return storeFail(stderr, err)
	}
	defer repo.Close()
	n, err := pull.AddRemote(ctx, repo, pos[0], pos[1], opts)
	if err != nil {
		return storeFail(stderr, err)
	}
	if len(imports) > 0 {
		s := "s"
		if n == 1 {
			s = ""
		}
		fmt.Fprintf(stdout, "Imported %d GPG key%s to remote \"%s\"\n", n, s, pos[0])
	}
	return 0
}

func runStoreRemoteDelete(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, repoPath := newStoreFlags("remote delete", stderr)
	ifExists := fs.Bool("if-exists", false, "do nothing if the remote does not exist")
	pos, ok := parseStoreFlags(fs, args, stderr)
	if !ok {
		return 1
	}
	if len(pos) != 1 {
		return storeFail(stderr, errors.New("usage: porthole store remote delete --repo=R NAME"))
	}
	repo, err := openStoreRepo(ctx, *repoPath)
	if err != nil {
		return storeFail(stderr, err)
	}
	defer repo.Close()
	if err := pull.DeleteRemote(ctx, repo, pos[0], *ifExists); err != nil {
		return storeFail(stderr, err)
	}
	return 0
}

func runStoreRemoteList(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, repoPath := newStoreFlags("remote list", stderr)
	var urls bool
	fs.BoolVar(&urls, "u", false, "show remote URLs")
	fs.BoolVar(&urls, "show-urls", false, "show remote URLs")
	if _, ok := parseStoreFlags(fs, args, stderr); !ok {
		return 1
	}
	repo, err := openStoreRepo(ctx, *repoPath)
	if err != nil {
		return storeFail(stderr, err)
	}
	defer repo.Close()
	names := pull.ListRemotes(repo)
	width := 0
	for _, n := range names {
		width = max(width, len(n))
	}
	for _, n := range names {
		if !urls {
			fmt.Fprintln(stdout, n)
			continue
		}
		r, err := pull.LoadRemote(repo, n)
		if err != nil {
			return storeFail(stderr, err)
		}
		fmt.Fprintf(stdout, "%-*s  %s\n", width, n, r.URL)
	}
	return 0
}

func runStoreRemoteShowURL(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, repoPath := newStoreFlags("remote show-url", stderr)
	pos, ok := parseStoreFlags(fs, args, stderr)
	if !ok {
		return 1
	}
	if len(pos) != 1 {
		return storeFail(stderr, errors.New("usage: porthole store remote show-url --repo=R NAME"))
	}
	repo, err := openStoreRepo(ctx, *repoPath)
	if err != nil {
		return storeFail(stderr, err)
	}
	defer repo.Close()
	r, err := pull.LoadRemote(repo, pos[0])
	if err != nil {
		return storeFail(stderr, err)
	}
	fmt.Fprintln(stdout, r.URL)
	return 0
}
