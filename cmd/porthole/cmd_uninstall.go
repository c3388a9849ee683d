package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/porthole-dev/porthole/runtime/installation"
	"github.com/porthole-dev/porthole/runtime/ref"
)

func runUninstall(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newVerbFlags("uninstall", stderr)
	inf := addInstFlags(fs)
	yes := fs.Bool("y", false, "automatically answer yes")
	fs.BoolVar(yes, "assumeyes", false, "automatically answer yes")
	quiet := fs.Bool("noninteractive", false, "produce minimal output and don't ask questions")
	unused := fs.Bool("unused", false, "uninstall unused runtimes")
	deleteData := fs.Bool("delete-data", false, "delete app data")
	force := fs.Bool("force-remove", false, "remove files even if running")
	pos, ok := parseStoreFlags(fs, args, stderr)
	if !ok {
		return 1
	}
	if len(pos) == 0 && !*unused {
		return usageFail(stderr, "uninstall [OPTION…] [REF…]")
	}
	home, _ := os.UserHomeDir()
	opts := installation.UninstallOptions{DeleteData: *deleteData, DataDir: filepath.Join(home, ".var", "app"), Force: *force, NoPrune: true}
	found := false
	for _, inst := range inf.openExisting(ctx) {
		var targets []ref.Ref
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
		if *unused {
			u, err := inst.Unused()
			if err != nil {
				return fail(stderr, err)
			}
			targets = append(targets, u...)
		}
		// Extensions deleted with their app or runtime (.Locale, .Debug).
		seen := map[ref.Ref]bool{}
		for _, r := range targets {
			seen[r] = true
		}
		for _, r := range append([]ref.Ref(nil), targets...) {
			if d, err := inst.Get(r); err == nil {
				for _, rel := range inst.InstalledRelated(d) {
					if !seen[rel] {
						seen[rel] = true
						targets = append(targets, rel)
					}
				}
			}
		}
		for _, r := range targets {
			found = true
			if err := inst.Uninstall(ctx, r, opts); err != nil {
				inst.Close()
				return fail(stderr, err)
			}
			if !*quiet {
				fmt.Fprintf(stdout, "Uninstalled %s\n", r)
			}
		}
		if len(targets) > 0 {
			if err := inst.Prune(ctx); err != nil {
				inst.Close()
				return fail(stderr, err)
			}
		}
		inst.Close()
	}
	if !found && len(pos) > 0 {
		return fail(stderr, fmt.Errorf("%s: %w", pos[0], installation.ErrNotInstalled))
	}
	if !found && !*quiet {
		fmt.Fprintln(stdout, "Nothing unused to uninstall")
	}
	return 0
}
