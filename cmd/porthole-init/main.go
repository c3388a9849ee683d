// Command porthole-init is the sandbox's re-exec'd init and exec stages
// (see package launcher). It is pure Go, built without cgo so that each
// stage starts fast, and is never run by hand.
package main

import (
	"fmt"
	"os"

	"github.com/porthole-dev/porthole/launcher"
)

func main() {
	launcher.MaybeInit()
	fmt.Fprintln(os.Stderr, "porthole-init: this helper is started by porthole run; it is not meant to be run by hand")
	os.Exit(2)
}
