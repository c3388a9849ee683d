package dbusproxy

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/porthole-dev/porthole/internal/testbus"
)

// TestConcurrentClients: 100 clients through one proxy, each pipelining
// calls that pass, calls that are refused and signals to a peer, lose
// nothing and keep their order.
func TestConcurrentClients(t *testing.T) {
	runStress(t, 100, 400)
}

// TestConcurrentClients10k is the full load: 100 clients × 10,000
// messages (about 20 s on 2 cores), skipped with -short.
func TestConcurrentClients10k(t *testing.T) {
	if testing.Short() {
		t.Skip("100 × 10,000 messages: skipped with -short")
	}
	runStress(t, 100, 10000)
}

// stressKinds are the messages each client cycles through.
const (
	stressPass    = iota // NameHasOwner(org.test.Talk): true
	stressHidden         // a call to a hidden name: ServiceUnknown
	stressSignal         // a unicast signal to the sink, numbered
	stressRewrite        // GetNameOwner(hidden): NameHasNoOwner made up
	stressKinds
)

func runStress(t *testing.T, clients, perClient int) {
	bus := testbus.New(t)
	addrs, err := parseAddress(bus.Address())
	if err != nil {
		t.Fatal(err)
	}
	sink := dialRaw(t, addrs[0].Name)
	sink.hello()
	sink.serial++
	b := newCall(sink.serial, 0, busName, "/org/freedesktop/DBus", busName, "RequestName")
	b.sig = "su"
	b.appendString("org.test.Talk")
	b.pad(&b.body, 4)
	b.body = append(b.body, 4, 0, 0, 0)
	sink.write(b.bytes())
	sink.reply(sink.serial)

	path := startProxy(t, bus.Address(), testPolicy(), nil)
	signalsPerClient := 0
	for j := 0; j < perClient; j++ {
		if j%stressKinds == stressSignal {
			signalsPerClient++
		}
	}

	sinkDone := make(chan error, 1)
	go func() { sinkDone <- sinkCount(sink, clients, signalsPerClient) }()

	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := stressClient(t, path, perClient); err != nil {
				errs <- fmt.Errorf("client %d: %w", i, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	if err := <-sinkDone; err != nil {
		t.Error(err)
	}
}

// stressClient sends perClient messages in pipelined batches while it
// reads and checks the answers.
func stressClient(t *testing.T, path string, perClient int) error {
	r := dialRaw(t, path)
	r.hello()
	type pending struct {
		serial uint32
		kind   int
	}
	want := make(chan pending, perClient)
	writeErr := make(chan error, 1)
	go func() {
		var batch []byte
		for j := 0; j < perClient; j++ {
			var m []byte
			var s uint32
			switch kind := j % stressKinds; kind {
			case stressPass:
				m, s = r.callMsg(busName, "/org/freedesktop/DBus", busName, "NameHasOwner", "org.test.Talk")
			case stressHidden:
				m, s = r.callMsg("org.test.Hidden", "/x", "org.test.I", "M", "")
			case stressSignal:
				r.serial++
				b := &builder{typ: typeSignal, serial: r.serial}
				b.stringField(fieldPath, 'o', "/org/test")
				b.stringField(fieldDestination, 's', "org.test.Talk")
				b.stringField(fieldInterface, 's', "org.test.Stress")
				b.stringField(fieldMember, 's', "Seq")
				b.sig = "s"
				b.appendString(r.unique + " " + strconv.Itoa(j))
				m = b.bytes()
			case stressRewrite:
				m, s = r.callMsg(busName, "/org/freedesktop/DBus", busName, "GetNameOwner", "org.test.Hidden")
			}
			if s != 0 {
				want <- pending{s, j % stressKinds}
			}
			batch = append(batch, m...)
			if len(batch) > 8192 || j == perClient-1 {
				if _, err := r.c.Write(batch); err != nil {
					writeErr <- err
					close(want)
					return
				}
				batch = batch[:0]
			}
		}
		close(want)
		writeErr <- nil
	}()
	for p := range want {
		h, m, err := r.next()
		for err == nil && h.typ == typeSignal {
			h, m, err = r.next()
		}
		if err != nil {
			return fmt.Errorf("waiting for the answer to %d: %w", p.serial, err)
		}
		if !h.hasReplySerial || h.replySerial != p.serial {
			return fmt.Errorf("answer to %d arrived, want the answer to %d (lost or reordered)", h.replySerial, p.serial)
		}
		var ok bool
		switch p.kind {
		case stressPass:
			b := h.body(m)
			ok = h.typ == typeMethodReturn && h.sig == "b" && len(b) == 4 && b[0] == 1
		case stressHidden:
			ok = h.typ == typeError && h.errName == errUnknown
		case stressRewrite:
			ok = h.typ == typeError && h.errName == errNoOwner
		}
		if !ok {
			return fmt.Errorf("answer to %d (kind %d) is %d %s", p.serial, p.kind, h.typ, h.errName)
		}
	}
	return <-writeErr
}

// sinkCount reads the signals sent to the sink until every client's have
// arrived, checking each client's numbering has no gap and no reordering.
func sinkCount(sink *rawConn, clients, perClient int) error {
	next := map[string]int{}
	total := 0
	for total < clients*perClient {
		h, m, err := sink.next()
		if err != nil {
			return fmt.Errorf("sink: %w after %d signals", err, total)
		}
		if h.typ != typeSignal || h.iface != "org.test.Stress" {
			continue
		}
		args, ok := h.stringArgs(m, 1)
		if !ok {
			return errors.New("sink: signal without body")
		}
		from, seq, _ := strings.Cut(args[0], " ")
		n, _ := strconv.Atoi(seq)
		want, seen := next[from]
		if !seen {
			want = stressSignal
		}
		if n != want {
			return fmt.Errorf("sink: signal %d from %s, want %d", n, from, want)
		}
		next[from] = n + stressKinds
		total++
	}
	if len(next) != clients {
		return fmt.Errorf("sink heard from %d clients, want %d", len(next), clients)
	}
	return nil
}

// TestSlowReaderHoldsBackItsClient: a client that writes calls and reads
// no replies is held back (its writes block once the proxy has queued
// about highWater of replies) instead of the proxy buffering without
// bound; another client meanwhile gets its answers, and once the slow
// client reads, every reply arrives, in order.
func TestSlowReaderHoldsBackItsClient(t *testing.T) {
	bus := testbus.New(t)
	path := startProxy(t, bus.Address(), testPolicy(), nil)
	slow := dialRaw(t, path)
	slow.hello()
	first := slow.serial + 1
	var sent uint32
	var buf []byte
	blocked := false
	for sent < 1_000_000 && !blocked {
		buf = buf[:0]
		for range 256 {
			m, _ := slow.callMsg(busName, "/org/freedesktop/DBus", busName, "NameHasOwner", "org.test.Talk")
			buf = append(buf, m...)
		}
		slow.c.SetWriteDeadline(time.Now().Add(500 * time.Millisecond))
		n, err := slow.c.Write(buf)
		if err != nil {
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatal(err)
			}
			blocked = true
			// Finish the message cut short, so the stream stays whole.
			slow.c.SetWriteDeadline(time.Time{})
			go slow.c.Write(buf[n:])
		}
		sent += 256
	}
	if !blocked {
		t.Fatalf("%d calls written without reading a reply: the proxy reads a client whose replies pile up", sent)
	}
	t.Logf("held back after %d calls (%d KiB)", sent, sent*uint32(len(buf))/256/1024)

	other := dialRaw(t, path)
	other.hello()
	s := other.call(busName, "/org/freedesktop/DBus", busName, "GetId", "")
	if h, _ := other.reply(s); h.typ != typeMethodReturn {
		t.Errorf("another client's GetId = %d %s", h.typ, h.errName)
	}

	for want := first; want < first+sent; want++ {
		h, _, err := slow.next()
		for err == nil && h.typ == typeSignal {
			h, _, err = slow.next()
		}
		if err != nil {
			t.Fatalf("waiting for the reply to %d: %v", want, err)
		}
		if h.replySerial != want || h.typ != typeMethodReturn {
			t.Fatalf("reply to %d (type %d), want the return for %d", h.replySerial, h.typ, want)
		}
	}
}
