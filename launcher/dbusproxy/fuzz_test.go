package dbusproxy

import (
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/porthole-dev/porthole/internal/testbus"
)

// FuzzClientStream sends each input as one client's byte stream through a
// real proxy (its loop, readers, writers and filters) to a real bus: after
// a valid SASL exchange and Hello when the first byte is even, raw from the
// first byte otherwise; the input is cut into writes at the positions its
// last bytes name, so messages arrive split. Whatever the client sends, the
// proxy must answer or close that client, and go on serving the next one.
func FuzzClientStream(f *testing.F) {
	seed := capturedClientStream(f)
	f.Add(append([]byte{0}, seed...))
	f.Add(append([]byte{1}, "\x00AUTH EXTERNAL 30\r\nBEGIN\r\n"...))
	f.Add([]byte{0, 'l', 1, 0, 1, 0, 0, 0, 0x7f, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f})
	// One bus and one proxy serve every input (of each fuzzing worker).
	bus := testbus.New(f)
	path := startProxy(f, bus.Address(), testPolicy(), nil)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		r := dialRaw(t, path)
		if data[0]%2 == 0 {
			r.hello()
		}
		stream := data[1:]
		cut := 1 + len(stream)/3
		if len(stream) > 0 {
			cut = 1 + int(stream[len(stream)-1])%(len(stream)+1)
		}
		r.c.SetWriteDeadline(time.Now().Add(2 * time.Second))
		for len(stream) > 0 {
			n := min(cut, len(stream))
			if _, err := r.c.Write(stream[:n]); err != nil {
				break // closed by the proxy, or it holds back a flood
			}
			stream = stream[n:]
		}
		r.c.CloseWrite()
		// Read what comes until the proxy closes the client (it sees the
		// client's half-close) or nothing more comes.
		r.c.SetReadDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 64<<10)
		for {
			if _, err := r.c.Read(buf); err != nil {
				break
			}
		}
		// The proxy still serves a well-behaved client.
		ok := dialRaw(t, path)
		ok.hello()
		s := ok.call(busName, "/org/freedesktop/DBus", busName, "GetId", "")
		if h, _ := ok.reply(s); h.typ != typeMethodReturn {
			t.Fatalf("after the input, GetId = %d %s", h.typ, h.errName)
		}
	})
}

// capturedClientStream is the client's side of the captured session, as
// one byte stream after SASL.
func capturedClientStream(t testing.TB) []byte {
	t.Helper()
	files, _ := filepath.Glob("testdata/messages/client-*.bin")
	sort.Strings(files)
	var out []byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b...)
	}
	return out
}
