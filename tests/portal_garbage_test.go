package tests

import (
	"encoding/xml"
	"fmt"
	"math/rand"
	"os"
	"strings"
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/introspect"
)

// ptOptionKeys are option names the portals know, to hit their checks.
var ptOptionKeys = []string{"handle_token", "session_handle_token", "reason", "modal", "multiple", "directory", "filters",
	"current_filter", "choices", "current_folder", "current_file", "current_name", "files", "accept_label", "writable", "ask",
	"activation_token", "address", "addresses", "cc", "bcc", "subject", "body", "attachment_fds", "autostart", "commandline",
	"dbus-activatable", "message", "interactive", "token", "supported_output_file_formats", "show-preview", "set-on",
	"distance-threshold", "time-threshold", "accuracy", "title", "markup-body", "icon", "sound", "priority", "default-action",
	"default-action-target", "buttons", "display-hint", "category", "types", "persist_mode", "restore_token", "unknown"}

// ptRandomValue returns a random value of D-Bus type sig, or of a random
// type when sig is "".
func ptRandomValue(r *rand.Rand, sig string, depth int) any {
	if sig == "" {
		sig = []string{"s", "u", "b", "i", "as", "ay", "a{sv}", "o", "d", "aay"}[r.Intn(10)]
	}
	junk := []string{"", "x", "../..", "file:///etc/passwd", "porthole-test://junk", "a\nb", strings.Repeat("long", 100), "\u00e9\u0000z", "ann@example.com", "t"}
	switch sig {
	case "s":
		return junk[r.Intn(len(junk))]
	case "o":
		return dbus.ObjectPath([]string{"/", "/org/freedesktop/portal/desktop/session/1_1/t", "/x/y"}[r.Intn(3)])
	case "u":
		return []uint32{0, 1, 2, 3, 4, 5, 8, 16, 255, 1 << 31}[r.Intn(10)]
	case "i":
		return int32(r.Intn(200) - 100)
	case "b":
		return r.Intn(2) == 0
	case "d":
		return r.NormFloat64()
	case "as":
		n := r.Intn(4)
		out := make([]string, n)
		for i := range out {
			out[i] = junk[r.Intn(len(junk))]
		}
		return out
	case "ay":
		return []byte(junk[r.Intn(len(junk))] + "\x00")
	case "aay":
		return [][]byte{[]byte("a\x00"), []byte(junk[r.Intn(len(junk))])}
	case "a{sv}":
		m := map[string]dbus.Variant{}
		if depth > 1 {
			return m
		}
		for i := r.Intn(5); i > 0; i-- {
			m[ptOptionKeys[r.Intn(len(ptOptionKeys))]] = dbus.MakeVariant(ptRandomValue(r, "", depth+1))
		}
		return m
	case "v":
		return dbus.MakeVariant(ptRandomValue(r, "", depth+1))
	}
	return nil // unsupported: the caller sends a wrong type instead
}

// TestPortalGarbageCalls calls every method of every interface the
// frontend exports with random arguments: the declared types filled with
// junk and random options, wrong types, and missing arguments. Each call
// must be answered (an error or a result) and the frontend must stay up.
func TestPortalGarbageCalls(t *testing.T) {
	e := ptSetup(t)
	fe := e.startFrontend(t, true)
	var data string
	if err := e.portal().Call("org.freedesktop.DBus.Introspectable.Introspect", 0).Store(&data); err != nil {
		t.Fatal(err)
	}
	var node introspect.Node
	if err := introspectUnmarshal(data, &node); err != nil {
		t.Fatal(err)
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	r := rand.New(rand.NewSource(7))
	calls := 0
	for _, iface := range node.Interfaces {
		if !strings.HasPrefix(iface.Name, "org.freedesktop.portal.") && !strings.HasPrefix(iface.Name, "org.freedesktop.host.portal.") {
			continue
		}
		for _, m := range iface.Methods {
			var in []string
			for _, a := range m.Args {
				if a.Direction == "in" {
					in = append(in, a.Type)
				}
			}
			for round := 0; round < 30; round++ {
				var args []any
				for i, sig := range in {
					switch {
					case round%10 == 9 && i == len(in)-1:
						continue // one argument short
					case round%5 == 4:
						args = append(args, ptRandomValue(r, "", 1)) // any type
					case sig == "h":
						args = append(args, dbus.UnixFD(devnull.Fd()))
					case sig == "ah":
						args = append(args, []dbus.UnixFD{dbus.UnixFD(devnull.Fd())})
					default:
						v := ptRandomValue(r, sig, 0)
						if v == nil {
							v = "not " + sig
						}
						args = append(args, v)
					}
				}
				call := e.portal().Call(iface.Name+"."+m.Name, 0, args...)
				calls++
				if call.Err == nil && len(call.Body) == 0 && len(m.Args) > len(in) {
					t.Errorf("%s.%s%v: empty reply", iface.Name, m.Name, args)
				}
			}
		}
	}
	if !fe.alive() {
		t.Fatalf("frontend died after %d calls:\n%s", calls, fe.log)
	}
	if err := e.portal().Call("org.freedesktop.DBus.Peer.Ping", 0).Err; err != nil {
		t.Fatalf("frontend does not answer after %d calls: %v", calls, err)
	}
	t.Logf("%d calls", calls)
	if err := fe.stop(); err != nil {
		t.Errorf("frontend exit on SIGHUP: %v\n%s", err, fe.log)
	}
}

func introspectUnmarshal(data string, n *introspect.Node) error {
	if err := xml.Unmarshal([]byte(data), n); err != nil {
		return fmt.Errorf("introspection data: %w", err)
	}
	return nil
}
