package main

import (
	"context"
	"fmt"
	"io"
	"sort"
)

// storeCommands lists the `porthole store` verbs, named as ostree names them.
// Add one line per verb, implemented in cmd_store_<verb>.go.
var storeCommands = map[string]command{}

func runStore(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "--help" || args[0] == "-h" {
		w := stdout
		if len(args) == 0 {
			w = stderr
		}
		fmt.Fprintln(w, "Usage:\n  porthole store COMMAND [OPTION…]\n\nCommands:")
		names := make([]string, 0, len(storeCommands))
		for name := range storeCommands {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			fmt.Fprintf(w, "  %-14s %s\n", name, storeCommands[name].summary)
		}
		if len(args) == 0 {
			return 1
		}
		return 0
	}
	cmd, ok := storeCommands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "error: unknown store command '%s'\n", args[0])
		return 1
	}
	return cmd.run(ctx, args[1:], stdout, stderr)
}
