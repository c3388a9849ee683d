// Command porthole-permission-store serves org.freedesktop.impl.portal.PermissionStore
// on the session bus, keeping tables in $XDG_DATA_HOME/flatpak/db.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/porthole-dev/porthole/portals/permissionstore"
)

var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("porthole-permission-store", flag.ContinueOnError)
	fs.SetOutput(stderr)
	verbose := fs.Bool("verbose", false, "print debug information")
	fs.BoolVar(verbose, "v", false, "print debug information")
	replace := fs.Bool("replace", false, "replace a running permission store")
	fs.BoolVar(replace, "r", false, "replace a running permission store")
	showVersion := fs.Bool("version", false, "print version and exit")
	if err := fs.Parse(args); err != nil {
		return 1
	}
	if *showVersion {
		fmt.Fprintln(stdout, "porthole-permission-store", version)
		return 0
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	err := permissionstore.Run(ctx, permissionstore.Options{
		Dir:     filepath.Join(dataHome(), "flatpak", "db"),
		Replace: *replace,
		Logger:  log,
	})
	if err != nil {
		fmt.Fprintf(stderr, "porthole-permission-store: %v\n", err)
		return 1
	}
	return 0
}

// dataHome is $XDG_DATA_HOME, or ~/.local/share when unset or relative.
func dataHome() string {
	if d := os.Getenv("XDG_DATA_HOME"); filepath.IsAbs(d) {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = "/"
	}
	return filepath.Join(home, ".local", "share")
}
