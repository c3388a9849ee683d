package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/porthole-dev/porthole/runtime/publish"
)

func newVerbFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("porthole "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func fail(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "error: %v\n", err)
	return 1
}

func usageFail(stderr io.Writer, usage string) int {
	fmt.Fprintf(stderr, "usage: porthole %s\n", usage)
	return 1
}

func runBuildInit(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newVerbFlags("build-init", stderr)
	arch := fs.String("arch", "", "architecture to use")
	kind := fs.String("type", "app", "kind of build directory: app or runtime")
	update := fs.Bool("update", false, "reinitialize the metadata of an existing directory")
	pos, ok := parseStoreFlags(fs, args, stderr)
	if !ok {
		return 1
	}
	if len(pos) < 4 || len(pos) > 5 {
		return usageFail(stderr, "build-init DIRECTORY APPNAME SDK RUNTIME [BRANCH]")
	}
	branch := ""
	if len(pos) == 5 {
		branch = pos[4]
	}
	err := publish.BuildInit(pos[0], pos[1], pos[2], pos[3], branch,
		publish.InitOptions{Arch: *arch, Runtime: *kind == "runtime", Update: *update})
	if err != nil {
		return fail(stderr, err)
	}
	return 0
}
