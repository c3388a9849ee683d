package dbusproxy

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// capturedSession returns the captured session as one fuzz input: each
// message preceded by a direction byte (0 from the client, 1 from the bus),
// in capture order (client messages first, then the bus's).
func capturedSession(t testing.TB) []byte {
	t.Helper()
	files, _ := filepath.Glob("testdata/messages/*.bin")
	sort.Slice(files, func(i, j int) bool {
		num := func(s string) string { return strings.SplitN(filepath.Base(s), "-", 2)[1] }
		return num(files[i]) < num(files[j])
	})
	var out []byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dir := byte(0)
		if strings.HasPrefix(filepath.Base(f), "bus-") {
			dir = 1
		}
		out = append(out, dir)
		out = append(out, b...)
	}
	return out
}

// FuzzFilter feeds a sequence of messages, each from the client or from the
// bus, through one client's filtering state (without sockets): it must
// never panic, and what it sends on must parse.
func FuzzFilter(f *testing.F) {
	f.Add(capturedSession(f))
	f.Fuzz(fuzzFilter)
}

func fuzzFilter(t *testing.T, data []byte) {
	{
		p := testPolicy()
		p.SetLevel("org.test.Wild.*", LevelTalk)
		p.AddCall("org.test.Call", "org.test.I.M@/a/*")
		p.AddBroadcast("org.test.Call", "@/b")
		p.SloppyNames = len(data)%2 == 0
		px, err := New("unix:path=/nonexistent", p, nil)
		if err != nil {
			t.Fatal(err)
		}
		cl := newClient(px, -1, -1)
		for len(data) > 1 {
			dir := data[0]
			data = data[1:]
			n, err := messageLen(data, MaxMessageSize)
			if err != nil || n > len(data) {
				return
			}
			m := data[:n]
			data = data[n:]
			h, err := parseHeader(m, true)
			if err != nil {
				continue
			}
			var out [][]byte
			if dir&1 == 0 {
				send, ops, _, err := cl.filterClient(h, m, nil)
				if err != nil {
					continue
				}
				if send != nil {
					out = append(out, send.b)
				}
				out = append(out, splitMessages(t, ops)...)
			} else {
				send, ops := cl.busVerdict(h, m)
				if send != nil {
					out = append(out, send)
				}
				out = append(out, splitMessages(t, ops)...)
			}
			for _, o := range out {
				if _, err := parseHeader(o, true); err != nil {
					t.Fatalf("the proxy sent a message that does not parse: %v", err)
				}
			}
		}
	}
}

// splitMessages splits concatenated messages the proxy made up.
func splitMessages(t *testing.T, b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		n, err := messageLen(b, MaxMessageSize)
		if err != nil || n > len(b) {
			t.Fatalf("made-up messages do not frame: %v", err)
		}
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}
