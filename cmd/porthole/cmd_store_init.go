package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/porthole-dev/porthole/internal/progress"
	"github.com/porthole-dev/porthole/store"
)

func runStoreInit(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, repoPath := newStoreFlags("init", stderr)
	mode := fs.String("mode", "bare", "repository mode (bare, bare-user, bare-user-only, archive)")
	if _, ok := parseStoreFlags(fs, args, stderr); !ok {
		return 1
	}
	if *repoPath == "" {
		return storeFail(stderr, errors.New("--repo is required"))
	}
	m, err := store.ParseMode(*mode)
	if err != nil {
		return storeFail(stderr, err)
	}
	r, err := store.Init(ctx, *repoPath, m)
	if err != nil {
		return storeFail(stderr, err)
	}
	if err := r.Close(); err != nil {
		return storeFail(stderr, err)
	}
	return 0
}

// Helpers shared by the store verbs (store-core's files).

// newStoreFlags returns a FlagSet with --repo (default $OSTREE_REPO).
func newStoreFlags(name string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("porthole store "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	repo := fs.String("repo", os.Getenv("OSTREE_REPO"), "path to the repository")
	return fs, repo
}

// parseStoreFlags parses args allowing options after positional arguments,
// as GOption does; "--" ends option parsing.
func parseStoreFlags(fs *flag.FlagSet, args []string, stderr io.Writer) ([]string, bool) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, false
			}
			return nil, false
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, true
		}
		if len(args) > 0 && len(rest) < len(args) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), true
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// openStoreRepo opens --repo.
func openStoreRepo(ctx context.Context, path string) (*store.Repo, error) {
	if path == "" {
		return nil, errors.New("--repo is required (or set OSTREE_REPO)")
	}
	return store.Open(ctx, path)
}

func storeFail(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "error: %v\n", err)
	return 1
}

// storeProgress adapts internal/progress to store.ProgressFunc; it draws
// only when stderr is a terminal. Call the returned done func at the end.
func storeProgress(stderr io.Writer, label string) (store.ProgressFunc, func()) {
	bar := progress.New(stderr, label, progress.Options{})
	if bar == nil {
		return nil, func() {}
	}
	var total atomic.Int64
	fn := func(done, t int64) {
		for {
			old := total.Load()
			if t <= old {
				break
			}
			if total.CompareAndSwap(old, t) {
				bar.AddTotal(t - old)
				break
			}
		}
		bar.Add(1, 0)
	}
	return fn, bar.Done
}

// parseStoreTime accepts RFC 3339, "YYYY-MM-DD HH:MM:SS" (UTC),
// "YYYY-MM-DD" and "@UNIXSECONDS".
func parseStoreTime(s string) (time.Time, error) {
	if strings.HasPrefix(s, "@") {
		n, err := strconv.ParseInt(s[1:], 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("cannot parse time %q", s)
		}
		return time.Unix(n, 0).UTC(), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05Z07:00", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("cannot parse time %q", s)
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }
