package busconn_test

import (
	"context"
	"syscall"
	"testing"

	"github.com/godbus/dbus/v5"

	"github.com/porthole-dev/porthole/internal/busconn"
	"github.com/porthole-dev/porthole/internal/testbus"
)

type settings struct{}

// cpuNS is this process's CPU time so far.
func cpuNS() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func (settings) ReadOne(ns, key string) (dbus.Variant, *dbus.Error) {
	return dbus.MakeVariant(uint32(1)), nil
}

// BenchmarkRoundTrip is a Settings.ReadOne-shaped call (ss → v) to a
// server on godbus's own transport (which a hostile caller can crash), on
// the socketpair relay documentportal used before and on busconn's,
// through a private dbus-daemon; the client is a plain godbus connection.
func BenchmarkRoundTrip(b *testing.B) {
	bus := testbus.New(b)
	for _, tc := range []struct {
		name string
		dial func() (*dbus.Conn, error)
	}{
		{"godbus", func() (*dbus.Conn, error) { return dbus.Connect(bus.Address()) }},
		{"relay", func() (*dbus.Conn, error) { return relayDial(bus.Address(), &fdClaims{}) }},
		{"busconn", func() (*dbus.Conn, error) {
			c, err := busconn.Dial(context.Background(), bus.Address(), busconn.Options{})
			if err != nil {
				return nil, err
			}
			return c.Conn, nil
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			srv, err := tc.dial()
			if err != nil {
				b.Fatal(err)
			}
			defer srv.Close()
			if err := srv.Export(settings{}, "/s", "org.example.Settings"); err != nil {
				b.Fatal(err)
			}
			obj := bus.Conn(b).Object(srv.Names()[0], "/s")
			cpu0 := cpuNS()
			for b.Loop() {
				var v dbus.Variant
				if err := obj.Call("org.example.Settings.ReadOne", 0, "org.freedesktop.appearance", "color-scheme").Store(&v); err != nil {
					b.Fatal(err)
				}
			}
			// Client and server both run here; the daemon does not.
			b.ReportMetric(float64(cpuNS()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}
