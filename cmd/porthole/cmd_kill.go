package main

import (
	"context"
	"fmt"
	"io"
	"syscall"
)

// runKill is `porthole kill INSTANCE|APP`: it kills the sandbox's pid 1,
// which takes every process of the sandbox with it.
func runKill(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "Usage:\n  porthole kill INSTANCE|APP")
		return 1
	}
	killed := false
	for _, in := range listInstances() {
		if in.ID == args[0] || in.Info.Name == args[0] {
			if err := syscall.Kill(in.ChildPid, syscall.SIGKILL); err != nil {
				fmt.Fprintf(stderr, "error: killing %s: %v\n", in.ID, err)
				return 1
			}
			killed = true
		}
	}
	if !killed {
		fmt.Fprintf(stderr, "error: %s is not running\n", args[0])
		return 1
	}
	return 0
}
