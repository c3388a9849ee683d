package progress

import (
	"bytes"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestSilentWhenPiped(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if b := New(w, "Pulling", Options{}); b != nil {
		t.Fatalf("New(pipe) = %v, want nil", b)
	}
	var nilBar *Bar
	nilBar.AddTotal(3)
	nilBar.Add(1, 10)
	nilBar.Done()
	nilBar.Clear()
	if New(&bytes.Buffer{}, "x", Options{}) != nil {
		t.Error("New(buffer) != nil")
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func TestRateLimitedAndConcurrent(t *testing.T) {
	var mu sync.Mutex
	clock := time.Unix(1000, 0)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	var out syncBuf
	b := New(&out, "Pulling", Options{Force: true, Interval: time.Second, Now: now})
	b.AddTotal(1000)
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				b.Add(1, 1000)
			}
		}()
	}
	wg.Wait()
	// The clock never moved: only the first draw happened.
	if n := strings.Count(out.b.String(), "\r"); n != 0 && n != 1 {
		t.Errorf("%d draws without time passing, want at most 1", n)
	}
	mu.Lock()
	clock = clock.Add(10 * time.Second)
	mu.Unlock()
	b.Add(0, 0)
	b.Done()
	s := out.b.String()
	last := s[strings.LastIndex(s, "\r")+1:]
	want := "Pulling 800/1000 objects, 800.0 kB, 80.0 kB/s, ETA 0:03\x1b[K\n"
	if last != want {
		t.Errorf("final line = %q, want %q", last, want)
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 bytes", 1: "1 byte", 999: "999 bytes", 1000: "1.0 kB", 1500000: "1.5 MB", 3e9: "3.0 GB"} {
		if got := FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
