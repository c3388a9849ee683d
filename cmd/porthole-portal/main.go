// Command porthole-portal is the desktop portal frontend: it owns
// org.freedesktop.portal.Desktop on the session bus until SIGHUP, SIGINT
// or SIGTERM (exit status 0) or until the bus goes away.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/porthole-dev/porthole/portals"
)

var (
	version    = "dev"
	datadir    = "/usr/local/share" // set with -ldflags -X main.datadir=
	sysconfdir = "/etc"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stderr))
}

func run(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("porthole-portal", flag.ContinueOnError)
	fs.SetOutput(stderr)
	verbose := fs.Bool("verbose", false, "log debug messages")
	fs.BoolVar(verbose, "v", false, "log debug messages")
	replace := fs.Bool("replace", false, "accepted for compatibility; ignored")
	showVersion := fs.Bool("version", false, "print the version and exit")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile to `file` until exit (benchmarks)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	_ = replace
	if *showVersion {
		fmt.Fprintln(os.Stdout, "porthole-portal", version)
		return 0
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(stderr, "porthole-portal:", err)
			return 1
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(stderr, "porthole-portal:", err)
			return 1
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	srv, err := portals.New(ctx, portals.Options{DataDir: datadir, SysconfDir: sysconfdir, Logger: log})
	if err != nil {
		fmt.Fprintln(stderr, "porthole-portal:", err)
		return 1
	}
	select {
	case <-ctx.Done():
	case <-srv.Done():
	}
	// Closing ends pending requests; do not let a stuck peer delay exit.
	closed := make(chan struct{})
	go func() { srv.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(2 * time.Second):
	}
	return 0
}
