package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/porthole-dev/porthole/launcher"
)

// runEnter is `porthole enter INSTANCE|APP|PID COMMAND [ARG…]`. Instead
// of setns (which a multithreaded Go process cannot do for user and mount
// namespaces), it asks the sandbox's pid 1 over the instance's enter
// socket to spawn the command; the command goes through the same exec
// stage (no capabilities, no_new_privs, seccomp) as the app.
func runEnter(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("enter", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cwd := fs.String("cwd", "", "directory to run the command in")
	var env []string
	fs.Func("env", "set an environment variable (VAR=VALUE)", func(v string) error { env = append(env, v); return nil })
	if err := fs.Parse(args); err != nil {
		return 1
	}
	if fs.NArg() < 2 {
		fmt.Fprintln(stderr, "Usage:\n  porthole enter INSTANCE|APP|PID COMMAND [ARGUMENT…]")
		return 1
	}
	in, ok := findInstance(fs.Arg(0))
	if !ok {
		fmt.Fprintf(stderr, "error: %s is not running\n", fs.Arg(0))
		return 1
	}
	if t := os.Getenv("TERM"); t != "" {
		env = append([]string{"TERM=" + t}, env...)
	}
	out, _ := stdout.(*os.File)
	errf, _ := stderr.(*os.File)
	if out == nil || errf == nil {
		fmt.Fprintln(stderr, "error: enter needs real stdout and stderr")
		return 1
	}
	code, err := launcher.Enter(ctx, in.Dir, launcher.EnterRequest{Args: fs.Args()[1:], Env: env, Cwd: *cwd}, os.Stdin, out, errf)
	if err != nil {
		var ie *launcher.InitError
		if errors.As(err, &ie) {
			fmt.Fprintf(stderr, "error: %v\n", err)
			return 1
		}
		fmt.Fprintf(stderr, "error: %v\n", err)
		return 1
	}
	return code
}
