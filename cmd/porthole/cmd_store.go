package main

import (
	"context"
	"fmt"
	"io"
	"sort"
)

// storeCommands lists the `porthole store` verbs, named as ostree names them.
// Add one line per verb, implemented in cmd_store_<verb>.go.
var storeCommands = map[string]command{
	"init":      {"Initialize a new empty repository", runStoreInit},
	"commit":    {"Commit a new revision", runStoreCommit},
	"checkout":  {"Check out a commit into a filesystem tree", runStoreCheckout},
	"refs":      {"List refs", runStoreRefs},
	"log":       {"Show log starting at commit or ref", runStoreLog},
	"show":      {"Output a metadata object", runStoreShow},
	"ls":        {"List file paths", runStoreLs},
	"cat":       {"Concatenate contents of files", runStoreCat},
	"rev-parse": {"Output the target of a rev", runStoreRevParse},
	"fsck":      {"Check the repository for consistency", runStoreFsck},
	"prune":     {"Search for unreachable objects", runStorePrune},
	"summary":   {"Manage summary metadata", runStoreSummary},
	"gpg-sign":  {"Sign a commit", runStoreGPGSign},
	"remote":    {"Remote commands that may involve internet access", runStoreRemote},
	"pull":      {"Download data from a remote repository", runStorePull},
}

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
