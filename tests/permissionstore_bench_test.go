package tests

import (
	"fmt"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/porthole-dev/porthole/internal/testbus"
)

// BenchmarkPermissionStore measures per-call latency over one connection
// for ours and Debian's xdg-permission-store in one run. Both stores run
// at once, each on its own private bus, and every iteration makes the same
// call to each (alternating which goes first), so load on the machine hits
// both alike. Reported: ours-ns/call, upstream-ns/call and their ratio.
// Calls: Lookup in a table of 100 entries; SetPermission (a durable write).
//
//	go test -run='^$' -bench=PermissionStore ./tests/
func BenchmarkPermissionStore(b *testing.B) {
	objs := map[string]dbus.BusObject{}
	for _, which := range []string{"ours", "upstream"} {
		bin := psBinary(b, which)
		bus := testbus.New(b)
		psStart(b, bus, bin, b.TempDir())
		obj := psObject(bus.Conn(b))
		for i := range 100 {
			psCall(b, obj, "Set", "bench", true, fmt.Sprintf("id%d", i),
				map[string][]string{"org.example.A": {"read", "write"}, "org.example.B": {"read"}},
				dbus.MakeVariant(psDoc{[]byte(fmt.Sprintf("/home/u/file%d\x00", i)), 2049, uint64(i), 0}))
		}
		objs[which] = obj
	}
	bench := func(b *testing.B, call func(obj dbus.BusObject, i int) error) {
		var spent [2]time.Duration
		order := [2]string{"ours", "upstream"}
		i := 0
		for b.Loop() {
			for k := range 2 {
				w := (k + i) % 2
				start := time.Now()
				if err := call(objs[order[w]], i); err != nil {
					b.Fatalf("%s: %v", order[w], err)
				}
				spent[w] += time.Since(start)
			}
			i++
		}
		b.ReportMetric(float64(spent[0].Nanoseconds())/float64(i), "ours-ns/call")
		b.ReportMetric(float64(spent[1].Nanoseconds())/float64(i), "upstream-ns/call")
		b.ReportMetric(float64(spent[0])/float64(spent[1]), "ours/upstream")
	}
	b.Run("Lookup", func(b *testing.B) {
		var perms map[string][]string
		var data dbus.Variant
		bench(b, func(obj dbus.BusObject, i int) error {
			return obj.Call(psIface+".Lookup", 0, "bench", fmt.Sprintf("id%d", i%100)).Store(&perms, &data)
		})
	})
	b.Run("SetPermission", func(b *testing.B) {
		bench(b, func(obj dbus.BusObject, i int) error {
			return obj.Call(psIface+".SetPermission", 0, "bench", false, fmt.Sprintf("id%d", i%100), "org.example.C", []string{fmt.Sprint(i)}).Err
		})
	})
}
