// Command porthole-dbus-proxy is `porthole dbus-proxy` in a small pure-Go
// binary: the porthole binary hands the verb over to it before its own
// runtime starts (see cmd/porthole/cmd_dbusproxy.go), so that the proxy is
// listening as soon as xdg-dbus-proxy would be. Users run
// `porthole dbus-proxy`; running this binary directly works the same.
//
// The GOMAXPROCS of a proxy need not follow cgroup CPU limits, and reading
// them at start-up costs a tenth of the start-up time.
//
//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0
package main

import (
	"context"
	"os"

	"github.com/porthole-dev/porthole/launcher/dbusproxy/proxycli"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

func main() {
	// proxycli.Run catches SIGINT and SIGTERM itself, once listening.
	os.Exit(proxycli.Run(context.Background(), os.Args[1:], os.Stdout, os.Stderr, version))
}
