// Command porthole-document-portal serves org.freedesktop.portal.Documents
// and org.freedesktop.portal.FileTransfer on the session bus and the
// document file system at $XDG_RUNTIME_DIR/doc. SIGHUP, SIGINT and SIGTERM
// unmount it and exit 0.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/porthole-dev/porthole/documentportal"
)

var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	signal.Ignore(syscall.SIGPIPE)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("porthole-document-portal", flag.ContinueOnError)
	fs.SetOutput(stderr)
	verbose := fs.Bool("verbose", false, "print debug information")
	fs.BoolVar(verbose, "v", false, "print debug information")
	replace := fs.Bool("replace", false, "replace a running document portal")
	fs.BoolVar(replace, "r", false, "replace a running document portal")
	showVersion := fs.Bool("version", false, "print version and exit")
	if err := fs.Parse(args); err != nil {
		return 1
	}
	if *showVersion {
		fmt.Fprintln(stdout, "porthole-document-portal", version)
		return 0
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	err := documentportal.Run(ctx, documentportal.Options{Replace: *replace, Logger: log})
	switch {
	case err == nil:
		return 0
	case errors.Is(err, documentportal.ErrNameTaken):
		fmt.Fprintf(stderr, "porthole-document-portal: %v\n", err)
		return 20
	case errors.Is(err, documentportal.ErrUnmounted):
		fmt.Fprintf(stderr, "porthole-document-portal: %v\n", err)
		return 21
	}
	fmt.Fprintf(stderr, "porthole-document-portal: %v\n", err)
	return 1
}
