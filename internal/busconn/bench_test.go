package busconn_test

import (
	"context"
	"testing"

	"github.com/godbus/dbus/v5"

	"github.com/porthole-dev/porthole/internal/busconn"
	"github.com/porthole-dev/porthole/internal/testbus"
)

type settings struct{}

func (settings) ReadOne(ns, key string) (dbus.Variant, *dbus.Error) {
	return dbus.MakeVariant(uint32(1)), nil
}

// BenchmarkRoundTrip is a Settings.ReadOne-shaped call (ss → v) to a
// server on godbus's own transport and on busconn's, through a private
// dbus-daemon; the client is a plain godbus connection.
func BenchmarkRoundTrip(b *testing.B) {
	bus := testbus.New(b)
	for _, tc := range []struct {
		name string
		dial func() (*dbus.Conn, error)
	}{
		{"godbus", func() (*dbus.Conn, error) { return dbus.Connect(bus.Address()) }},
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
			for b.Loop() {
				var v dbus.Variant
				if err := obj.Call("org.example.Settings.ReadOne", 0, "org.freedesktop.appearance", "color-scheme").Store(&v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
