package main

import (
	"context"
	"fmt"
	"io"

	"github.com/porthole-dev/porthole/internal/progress"
	"github.com/porthole-dev/porthole/runtime/installation"
	"github.com/porthole-dev/porthole/runtime/ref"
)

func runUpdate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newVerbFlags("update", stderr)
	inf := addInstFlags(fs)
	yes := fs.Bool("y", false, "automatically answer yes")
	fs.BoolVar(yes, "assumeyes", false, "automatically answer yes")
	quiet := fs.Bool("noninteractive", false, "produce minimal output and don't ask questions")
	pos, ok := parseStoreFlags(fs, args, stderr)
	if !ok {
		return 1
	}
	code := 0
	updated := 0
	for _, inst := range inf.openExisting(ctx) {
		var targets []ref.Ref
		if len(pos) == 0 {
			ds, _ := inst.List()
			for _, d := range ds {
				targets = append(targets, d.Ref)
			}
		}
		for _, s := range pos {
			p, err := ref.ParsePartial(s, "", inf.arch, "")
			if err != nil {
				return fail(stderr, err)
			}
			r, err := inst.Find(p)
			if err != nil {
				continue
			}
			targets = append(targets, r)
		}
		for _, r := range targets {
			var bar *progress.Bar
			if !*quiet {
				bar = progress.New(stderr, "Updating "+r.ID, progress.Options{})
			}
			d, changed, err := inst.Update(ctx, r, installation.InstallOptions{Progress: bar})
			bar.Done()
			if err != nil {
				fmt.Fprintf(stderr, "error: updating %s: %v\n", r, err)
				code = 1
				continue
			}
			if changed {
				updated++
				if !*quiet {
					fmt.Fprintf(stdout, "Updated %s to %s\n", r, d.Commit[:12])
				}
			}
		}
		inst.Close()
	}
	if updated == 0 && code == 0 && !*quiet {
		fmt.Fprintln(stdout, "Nothing to do.")
	}
	return code
}
