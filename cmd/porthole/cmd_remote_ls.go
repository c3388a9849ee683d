package main

import (
	"context"
	"fmt"
	"io"
	"sort"

	"github.com/porthole-dev/porthole/internal/progress"
	"github.com/porthole-dev/porthole/runtime/ref"
)

func runRemoteLs(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newVerbFlags("remote-ls", stderr)
	inf := addInstFlags(fs)
	updates := fs.Bool("updates", false, "show only those where updates are available")
	apps := fs.Bool("app", false, "show only apps")
	rts := fs.Bool("runtime", false, "show only runtimes")
	all := fs.Bool("all", false, "show arches and branches")
	fs.BoolVar(all, "a", false, "show arches and branches")
	pos, ok := parseStoreFlags(fs, args, stderr)
	if !ok {
		return 1
	}
	insts := inf.openExisting(ctx)
	defer func() {
		for _, i := range insts {
			i.Close()
		}
	}()
	for _, inst := range insts {
		var remotes []string
		if len(pos) > 0 {
			remotes = pos
		} else {
			for _, r := range inst.Remotes() {
				remotes = append(remotes, r.Name)
			}
		}
		for _, rem := range remotes {
			if _, err := inst.Remote(rem); err != nil {
				continue
			}
			var arches []string
			if !*all {
				arches = []string{inf.archOrNative()}
			}
			_, refs, err := inst.FetchSummary(ctx, rem, arches...)
			if err != nil {
				return fail(stderr, err)
			}
			var names []string
			for n := range refs {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				r, err := ref.Parse(n)
				if err != nil || (*apps && r.Kind != ref.App) || (*rts && r.Kind != ref.Runtime) {
					continue
				}
				if !*all && r.Arch != inf.archOrNative() {
					continue
				}
				if *updates {
					d, err := inst.Get(r)
					if err != nil || d.Origin != rem || d.Commit == refs[n].Commit {
						continue
					}
				}
				fmt.Fprintf(stdout, "%s\t%s\t%s\t%s\n", r.ID, r.Arch, r.Branch, progress.FormatBytes(int64(refs[n].DownloadSize)))
			}
		}
	}
	return 0
}
