package main

import (
	"context"
	"fmt"
	"io"
)

func runRemotes(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newVerbFlags("remotes", stderr)
	inf := addInstFlags(fs)
	fs.Bool("show-details", false, "show more information")
	if _, ok := parseStoreFlags(fs, args, stderr); !ok {
		return 1
	}
	for _, inst := range inf.openExisting(ctx) {
		for _, r := range inst.Remotes() {
			opts := inst.Name
			if r.Disabled {
				opts += ",disabled"
			}
			if !r.GPGVerify {
				opts += ",no-gpg-verify"
			}
			fmt.Fprintf(stdout, "%s\t%s\t%s\t%s\n", r.Name, r.Title, r.URL, opts)
		}
		inst.Close()
	}
	return 0
}
