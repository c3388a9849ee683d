package main

// The porthole binary links cgo and a large part of the project, and its
// start-up (dynamic loader, runtime, every package's init) takes longer than
// xdg-dbus-proxy's. `porthole dbus-proxy` therefore hands itself over, before
// the Go runtime starts, to porthole-dbus-proxy, the small pure-Go binary
// installed next to it or in ../libexec (same code: package proxycli). The hand-over is an
// ELF constructor, which the C library runs after loading the libraries and
// before the Go runtime: it only compares argv[1] and, for dbus-proxy,
// execs the sibling. When that binary is missing, the verb runs here.

/*
#include <limits.h>
#include <string.h>
#include <unistd.h>

static void __attribute__((constructor)) porthole_dbus_proxy_handoff(int argc, char **argv, char **envp) {
	static const char *const siblings[] = {"porthole-dbus-proxy", "../libexec/porthole-dbus-proxy"};
	if (argc < 2 || strcmp(argv[1], "dbus-proxy") != 0)
		return;
	char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof path - 64);
	if (n <= 0 || n >= (ssize_t)(sizeof path - 64))
		return;
	path[n] = 0;
	char *slash = strrchr(path, '/');
	if (slash == NULL)
		return;
	char *verb = argv[1];
	argv[1] = path;
	for (size_t i = 0; i < sizeof siblings / sizeof siblings[0]; i++) {
		strcpy(slash + 1, siblings[i]);
		execve(path, argv + 1, envp);
	}
	argv[1] = verb; // not there or not runnable: run the verb in this process
}
*/
import "C"

import (
	"context"
	"io"

	"github.com/porthole-dev/porthole/launcher/dbusproxy/proxycli"
)

func runDBusProxy(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return proxycli.Run(ctx, args, stdout, stderr, version)
}
