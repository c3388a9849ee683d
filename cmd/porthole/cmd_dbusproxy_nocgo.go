//go:build !cgo

package main

import (
	"context"
	"io"

	"github.com/porthole-dev/porthole/launcher/dbusproxy/proxycli"
)

// Without cgo there is no ELF constructor to hand over to
// porthole-dbus-proxy (see cmd_dbusproxy.go): the verb runs in this process.
func runDBusProxy(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return proxycli.Run(ctx, args, stdout, stderr, version)
}
