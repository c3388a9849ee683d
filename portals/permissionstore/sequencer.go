package permissionstore

import (
	"sync"
	"time"
)

// sequencer runs method calls in the order the bus delivered them. godbus
// handles every call in its own goroutine, but a client that sends
// SetPermission and then Delete without waiting for the first reply must
// see them applied in that order (upstream's test_delete_race does exactly
// this). The connection's incoming interceptor, which runs in message
// order, hands each call a ticket; handlers wait for their ticket's turn
// for the in-memory part of their work and leave the disk write to after.
type sequencer struct {
	mu      sync.Mutex
	next    uint64             // next ticket to hand out
	serving uint64             // lowest ticket not yet done
	tickets map[callKey]uint64 // issued, not yet claimed
	waiters map[uint64]chan struct{}
	// stall bounds how long a ticket waits for a predecessor whose
	// handler never runs (a call godbus rejected after the interceptor).
	stall time.Duration
}

type callKey struct {
	sender string
	serial uint32
}

func newSequencer() *sequencer {
	return &sequencer{
		tickets: make(map[callKey]uint64),
		waiters: make(map[uint64]chan struct{}),
		stall:   5 * time.Second,
	}
}

// issue records the arrival of a call; it runs in the connection's reader
// goroutine.
func (q *sequencer) issue(sender string, serial uint32) {
	q.mu.Lock()
	q.tickets[callKey{sender, serial}] = q.next
	q.next++
	q.mu.Unlock()
}

// enter blocks until the call's turn and returns the function that ends
// it. A call without a ticket (not seen by the interceptor) runs at once.
func (q *sequencer) enter(sender string, serial uint32) (leave func()) {
	key := callKey{sender, serial}
	q.mu.Lock()
	t, ok := q.tickets[key]
	if !ok {
		q.mu.Unlock()
		return func() {}
	}
	delete(q.tickets, key)
	if t > q.serving {
		ch := make(chan struct{})
		q.waiters[t] = ch
		q.mu.Unlock()
		timer := time.NewTimer(q.stall)
		select {
		case <-ch:
		case <-timer.C:
		}
		timer.Stop()
		q.mu.Lock()
		delete(q.waiters, t)
		if q.serving < t {
			q.serving = t // give up on the stalled predecessors
		}
	}
	q.mu.Unlock()
	return func() {
		q.mu.Lock()
		if q.serving <= t {
			q.serving = t + 1
			if ch, ok := q.waiters[q.serving]; ok {
				close(ch)
				delete(q.waiters, q.serving)
			}
		}
		q.mu.Unlock()
	}
}
