package permissionstore

import (
	"context"
	"fmt"
	"testing"

	"github.com/godbus/dbus/v5"

	"github.com/porthole-dev/porthole/internal/testbus"
	"github.com/porthole-dev/porthole/internal/testenv"
)

// BenchmarkServiceLookup runs the service in-process on a private bus and
// measures Lookup round trips (for profiling the service side).
func BenchmarkServiceLookup(b *testing.B) {
	testenv.Require(b, testenv.HaveDBusDaemon(), "needs dbus-daemon")
	bus := testbus.New(b)
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Dir: b.TempDir(), Address: bus.Address(), Ready: func() { close(ready) }})
	}()
	select {
	case <-ready:
	case err := <-done:
		b.Fatal(err)
	}
	b.Cleanup(func() { cancel(); <-done })
	obj := bus.Conn(b).Object(BusName, ObjectPath)
	for i := range 100 {
		err := obj.Call(InterfaceName+".SetPermission", 0, "bench", true, fmt.Sprintf("id%d", i), "org.example.A", []string{"yes"}).Err
		if err != nil {
			b.Fatal(err)
		}
	}
	var perms map[string][]string
	var data dbus.Variant
	i := 0
	for b.Loop() {
		if err := obj.Call(InterfaceName+".Lookup", 0, "bench", fmt.Sprintf("id%d", i%100)).Store(&perms, &data); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
