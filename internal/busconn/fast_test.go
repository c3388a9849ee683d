package busconn_test

import (
	"context"
	"encoding/binary"
	"sync"
	"testing"

	"github.com/godbus/dbus/v5"

	"github.com/porthole-dev/porthole/internal/busconn"
	"github.com/porthole-dev/porthole/internal/testbus"
)

type slowEcho struct{}

// Echo is answered by godbus when the fast handler declines.
func (slowEcho) Echo(a, b string) (string, *dbus.Error) { return "slow:" + a + b, nil }

// TestFastHandler: calls the handler answers never reach godbus, with
// replies every client decodes; declined calls are godbus's.
func TestFastHandler(t *testing.T) {
	bus := testbus.New(t)
	var mu sync.Mutex
	seen := map[string]string{}
	fast := func(c *busconn.FastCall) (busconn.FastReply, bool) {
		if c.Member != "Echo" || c.Path != string(path) || c.Interface != iface {
			return busconn.FastReply{}, false
		}
		args, ok := c.Strings()
		if !ok || len(args) != 2 || args[0] == "slow" {
			return busconn.FastReply{}, false
		}
		mu.Lock()
		seen["sender"] = c.Sender
		mu.Unlock()
		r, err := busconn.EncodeBody("fast:" + args[0] + args[1])
		if err != nil {
			t.Error(err)
			return busconn.FastReply{}, false
		}
		return r, true
	}
	srv, err := busconn.Dial(context.Background(), bus.Address(), busconn.Options{Fast: fast})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if err := srv.Export(slowEcho{}, path, iface); err != nil {
		t.Fatal(err)
	}
	if r, err := srv.RequestName(name, dbus.NameFlagDoNotQueue); err != nil || r != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("RequestName = %v, %v", r, err)
	}
	client := bus.Conn(t)
	obj := client.Object(name, path)
	for _, tc := range []struct{ a, b, want string }{
		{"x", "y", "fast:xy"},
		{"slow", "y", "slow:slowy"},
		{"", "ünï", "fast:ünï"},
		{"a", "b", "fast:ab"},
	} {
		var got string
		if err := obj.Call(iface+".Echo", 0, tc.a, tc.b).Store(&got); err != nil || got != tc.want {
			t.Errorf("Echo(%q, %q) = %q, %v; want %q", tc.a, tc.b, got, err, tc.want)
		}
	}
	// A call expecting no reply, then one that does: the bus gets no
	// stray reply and the next call is answered.
	if err := obj.Call(iface+".Echo", dbus.FlagNoReplyExpected, "n", "r").Err; err != nil {
		t.Fatal(err)
	}
	var got string
	if err := obj.Call(iface+".Echo", 0, "1", "2").Store(&got); err != nil || got != "fast:12" {
		t.Errorf("Echo after a no-reply call = %q, %v", got, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if seen["sender"] != client.Names()[0] {
		t.Errorf("FastCall.Sender = %q, want %q", seen["sender"], client.Names()[0])
	}
}

// TestEncodeBody: bodies of several shapes decode back through a bus.
func TestEncodeBody(t *testing.T) {
	for _, v := range []any{true, uint32(7), dbus.MakeVariant(dbus.MakeVariant(uint32(1))),
		map[string]dbus.Variant{"a": dbus.MakeVariant(false), "b": dbus.MakeVariant(uint32(4))}} {
		r, err := busconn.EncodeBody(v)
		if err != nil {
			t.Fatalf("EncodeBody(%v): %v", v, err)
		}
		if r.Signature != dbus.SignatureOf(v).String() {
			t.Errorf("EncodeBody(%v) signature %q", v, r.Signature)
		}
	}
}

// FuzzFastStrings: Strings never panics on any body and signature, and
// reads back the bodies EncodeBody makes.
func FuzzFastStrings(f *testing.F) {
	for _, args := range [][]any{{"org.freedesktop.appearance", "color-scheme"}, {"", ""}, {"a"}} {
		r, err := busconn.EncodeBody(args...)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(r.Signature, r.Body)
	}
	f.Add("ss", []byte{1, 0, 0, 0, 'a'})
	f.Add("sv", []byte{0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, sig string, body []byte) {
		c := busconn.FastCall{Signature: sig, Body: body, Order: binary.LittleEndian}
		got, ok := c.Strings()
		if !ok {
			return
		}
		vals := make([]any, len(got))
		for i, s := range got {
			vals[i] = s
		}
		if sig != "" && dbus.SignatureOf(vals...).String() == sig {
			r, err := busconn.EncodeBody(vals...)
			if err == nil && string(r.Body) != string(body) {
				t.Errorf("Strings(%q, %x) = %q, which encodes as %x", sig, body, got, r.Body)
			}
		}
	})
}
