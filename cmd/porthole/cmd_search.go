package main

import (
	"context"
	"fmt"
	"io"

	"github.com/porthole-dev/porthole/internal/progress"
)

func runSearch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newVerbFlags("search", stderr)
	inf := addInstFlags(fs)
	noUpdate := fs.Bool("no-update", false, "search the appstream data already downloaded")
	pos, ok := parseStoreFlags(fs, args, stderr)
	if !ok {
		return 1
	}
	if len(pos) != 1 {
		return usageFail(stderr, "search TEXT")
	}
	arch := inf.archOrNative()
	found := 0
	for _, inst := range inf.openExisting(ctx) {
		if !*noUpdate {
			for _, r := range inst.Remotes() {
				bar := progress.New(stderr, "Updating appstream data for "+r.Name, progress.Options{})
				err := inst.UpdateAppstream(ctx, r.Name, arch, bar)
				bar.Done()
				if err != nil {
					fmt.Fprintf(stderr, "warning: updating appstream data for %s: %v\n", r.Name, err)
				}
			}
		}
		for _, c := range inst.Search(pos[0], arch) {
			if found == 0 {
				fmt.Fprintln(stdout, "Name\tDescription\tApplication ID\tVersion\tBranch\tRemotes")
			}
			found++
			branch := ""
			if c.Ref != "" {
				if parts := splitRef(c.Ref); len(parts) == 4 {
					branch = parts[3]
				}
			}
			fmt.Fprintf(stdout, "%s\t%s\t%s\t%s\t%s\t%s\n", c.Name, c.Summary, c.ID, c.Version, branch, c.Remote)
		}
		inst.Close()
	}
	if found == 0 {
		fmt.Fprintln(stdout, "No matches found")
	}
	return 0
}

func splitRef(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}
