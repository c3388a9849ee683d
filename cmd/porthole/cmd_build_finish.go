package main

import (
	"context"
	"io"

	"github.com/porthole-dev/porthole/runtime/permissions"
	"github.com/porthole-dev/porthole/runtime/publish"
)

func runBuildFinish(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newVerbFlags("build-finish", stderr)
	c := permissions.New()
	addContextFlags(fs, c)
	command := fs.String("command", "", "command to run")
	require := fs.String("require-version", "", "required flatpak version")
	noExports := fs.Bool("no-exports", false, "do not process exports")
	pos, ok := parseStoreFlags(fs, args, stderr)
	if !ok {
		return 1
	}
	if len(pos) != 1 {
		return usageFail(stderr, "build-finish DIRECTORY [--command=…] [PERMISSION…]")
	}
	err := publish.Finish(pos[0], publish.FinishOptions{Command: *command, Context: c,
		NoExports: *noExports, RequireVersion: *require})
	if err != nil {
		return fail(stderr, err)
	}
	return 0
}
