package main

import (
	"context"
	"fmt"
	"io"
	"sort"

	"github.com/porthole-dev/porthole/runtime/installation"
)

func runHistory(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newVerbFlags("history", stderr)
	inf := addInstFlags(fs)
	if _, ok := parseStoreFlags(fs, args, stderr); !ok {
		return 1
	}
	var all []installation.HistoryEntry
	for _, inst := range inf.openExisting(ctx) {
		h, err := inst.History()
		inst.Close()
		if err != nil {
			return fail(stderr, err)
		}
		all = append(all, h...)
	}
	sort.SliceStable(all, func(a, b int) bool { return all[a].Time.Before(all[b].Time) })
	for _, e := range all {
		c := e.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		fmt.Fprintf(stdout, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.Local().Format("Jan 2 15:04:05"), e.Action, e.Ref, e.Remote, c, e.Installation)
	}
	return 0
}
