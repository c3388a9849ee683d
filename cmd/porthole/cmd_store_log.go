package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/porthole-dev/porthole/store"
	"github.com/porthole-dev/porthole/store/object"
)

func runStoreLog(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, repoPath := newStoreFlags("log", stderr)
	pos, ok := parseStoreFlags(fs, args, stderr)
	if !ok {
		return 1
	}
	if len(pos) != 1 {
		return storeFail(stderr, errors.New("usage: log REF"))
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
	for {
		cm, err := loadCommit(ctx, repo, c)
		if errors.Is(err, store.ErrObjectNotFound) {
			fmt.Fprintln(stdout, "<< History beyond this commit not fetched >>")
			return 0
		}
		if err != nil {
			return storeFail(stderr, err)
		}
		printCommit(stdout, c, &cm)
		if cm.Parent == nil {
			return 0
		}
		c = *cm.Parent
	}
}

func loadCommit(ctx context.Context, repo *store.Repo, c object.Checksum) (object.Commit, error) {
	data, err := repo.ReadMetadata(ctx, object.TypeCommit, c)
	if err != nil {
		return object.Commit{}, err
	}
	cm, err := object.UnmarshalCommit(data)
	if err != nil {
		return cm, fmt.Errorf("commit %s: %w", c, err)
	}
	return cm, nil
}

// printCommit prints a commit as ostree log/show do.
func printCommit(w io.Writer, c object.Checksum, cm *object.Commit) {
	fmt.Fprintf(w, "commit %s\n", c)
	if cm.Parent != nil {
		fmt.Fprintf(w, "Parent:  %s\n", cm.Parent)
	}
	fmt.Fprintf(w, "ContentChecksum:  %s\n", cm.ContentChecksum())
	fmt.Fprintf(w, "Date:  %s\n", time.Unix(int64(cm.Timestamp), 0).UTC().Format("2006-01-02 15:04:05 -0700"))
	if e, ok := cm.Metadata.Lookup("version"); ok && e.Type == "s" && len(e.Value) > 0 {
		fmt.Fprintf(w, "Version: %s\n", e.Value[:len(e.Value)-1])
	}
	if cm.Subject == "" {
		fmt.Fprint(w, "(no subject)\n\n")
	} else {
		fmt.Fprintf(w, "\n    %s\n\n", cm.Subject)
	}
	if cm.Body != "" {
		for _, l := range strings.Split(cm.Body, "\n") {
			fmt.Fprintf(w, "    %s\n", l)
		}
		fmt.Fprintln(w)
	}
}
