package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/porthole-dev/porthole/runtime/permissions"
)

// runOverride is `porthole override [--user|--system] [--reset] [--show]
// [APP] OPTIONS…`: it edits <installation>/overrides/APP (or global) as
// `flatpak override` does, keeping negations.
func runOverride(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("override", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage:\n  porthole override [OPTION…] [APP]")
		fs.PrintDefaults()
	}
	c := permissions.New()
	addContextFlags(fs, c)
	user := fs.Bool("user", false, "work on the user installation")
	fs.Bool("system", false, "work on the system installation (default)")
	reset := fs.Bool("reset", false, "remove the existing overrides")
	show := fs.Bool("show", false, "show the existing overrides")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 1
	}
	if fs.NArg() > 1 {
		fmt.Fprintln(stderr, "error: too many arguments")
		return 1
	}
	dir := systemInstallation()
	if *user {
		dir = userInstallation()
	}
	path := permissions.OverridePath(dir, fs.Arg(0))
	switch {
	case *reset:
		if err := permissions.ResetOverride(ctx, path); err != nil {
			fmt.Fprintf(stderr, "error: %v\n", err)
			return 1
		}
	case *show:
		data, err := os.ReadFile(path)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(stderr, "error: %v\n", err)
			return 1
		}
		stdout.Write(data)
	default:
		if err := permissions.UpdateOverride(ctx, path, c); err != nil {
			fmt.Fprintf(stderr, "error: %v\n", err)
			return 1
		}
	}
	return 0
}
