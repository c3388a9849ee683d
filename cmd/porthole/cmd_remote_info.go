package main

import (
	"context"
	"fmt"
	"io"

	"github.com/porthole-dev/porthole/internal/progress"
	"github.com/porthole-dev/porthole/runtime/ref"
)

func runRemoteInfo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newVerbFlags("remote-info", stderr)
	inf := addInstFlags(fs)
	showMeta := fs.Bool("show-metadata", false, "show metadata")
	fs.BoolVar(showMeta, "m", false, "show metadata")
	showCommit := fs.Bool("show-commit", false, "show commit")
	fs.BoolVar(showCommit, "c", false, "show commit")
	pos, ok := parseStoreFlags(fs, args, stderr)
	if !ok {
		return 1
	}
	if len(pos) != 2 {
		return usageFail(stderr, "remote-info [OPTION…] REMOTE REF")
	}
	inst, err := inf.open(ctx)
	if err != nil {
		return fail(stderr, err)
	}
	defer inst.Close()
	rem, err := inst.Remote(pos[0])
	if err != nil {
		return fail(stderr, err)
	}
	_, refs, err := inst.FetchSummary(ctx, pos[0], inf.archOrNative())
	if err != nil {
		return fail(stderr, err)
	}
	p, err := ref.ParsePartial(pos[1], "", inf.archOrNative(), "")
	if err != nil {
		return fail(stderr, err)
	}
	var names []string
	for n := range refs {
		names = append(names, n)
	}
	r, err := pick(p, names, rem.DefaultBranch)
	if err != nil {
		return fail(stderr, err)
	}
	rr := refs[r.String()]
	switch {
	case *showMeta:
		fmt.Fprint(stdout, rr.Metadata)
	case *showCommit:
		fmt.Fprintln(stdout, rr.Commit)
	default:
		fmt.Fprintf(stdout, "%14s %s\n%14s %s\n%14s %s\n%14s %s\n%14s %s\n%14s %s\n%14s %s\n", "ID:", r.ID, "Ref:", r,
			"Arch:", r.Arch, "Branch:", r.Branch, "Download:", progress.FormatBytes(int64(rr.DownloadSize)),
			"Installed:", progress.FormatBytes(int64(rr.InstalledSize)), "Commit:", rr.Commit)
	}
	return 0
}
