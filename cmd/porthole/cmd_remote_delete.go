package main

import (
	"context"
	"io"
)

func runRemoteDelete(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newVerbFlags("remote-delete", stderr)
	inf := addInstFlags(fs)
	force := fs.Bool("force", false, "remove remote even if in use")
	pos, ok := parseStoreFlags(fs, args, stderr)
	if !ok {
		return 1
	}
	if len(pos) != 1 {
		return usageFail(stderr, "remote-delete [OPTION…] NAME")
	}
	inst, err := inf.open(ctx)
	if err != nil {
		return fail(stderr, err)
	}
	defer inst.Close()
	if err := inst.DeleteRemote(ctx, pos[0], *force); err != nil {
		return fail(stderr, err)
	}
	return 0
}
