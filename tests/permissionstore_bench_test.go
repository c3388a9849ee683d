package tests

import (
	"fmt"
	"syscall"
	"testing"

	"github.com/godbus/dbus/v5"

	"github.com/porthole-dev/porthole/internal/testbus"
)

// BenchmarkPermissionStore measures per-call latency over one connection
// for ours and Debian's xdg-permission-store, on private buses in one run:
// Lookup in a table of 100 entries, and SetPermission (a durable write).
//
//	go test -run='^$' -bench=PermissionStore ./tests/
func BenchmarkPermissionStore(b *testing.B) {
	for _, which := range []string{"ours", "upstream"} {
		bin := psBinary(b, which)
		bus := testbus.New(b)
		p := psStart(b, bus, bin, b.TempDir())
		obj := psObject(bus.Conn(b))
		for i := range 100 {
			psCall(b, obj, "Set", "bench", true, fmt.Sprintf("id%d", i),
				map[string][]string{"org.example.A": {"read", "write"}, "org.example.B": {"read"}},
				dbus.MakeVariant(psDoc{[]byte(fmt.Sprintf("/home/u/file%d\x00", i)), 2049, uint64(i), 0}))
		}
		b.Run("Lookup/"+which, func(b *testing.B) {
			var perms map[string][]string
			var data dbus.Variant
			i := 0
			for b.Loop() {
				err := obj.Call(psIface+".Lookup", 0, "bench", fmt.Sprintf("id%d", i%100)).Store(&perms, &data)
				if err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
		b.Run("SetPermission/"+which, func(b *testing.B) {
			i := 0
			for b.Loop() {
				if err := obj.Call(psIface+".SetPermission", 0, "bench", false, fmt.Sprintf("id%d", i%100), "org.example.C", []string{fmt.Sprint(i)}).Err; err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
		p.stop(b, syscall.SIGTERM)
	}
}
