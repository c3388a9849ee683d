package permissionstore

import (
	"sync"
	"testing"
	"time"
)

func TestSequencerOrder(t *testing.T) {
	q := newSequencer()
	const n = 50
	for i := range n {
		q.issue(":1.1", uint32(i+1))
	}
	var mu sync.Mutex
	var order []int
	var wg sync.WaitGroup
	for i := n - 1; i >= 0; i-- { // start handlers in reverse
		wg.Add(1)
		go func() {
			defer wg.Done()
			leave := q.enter(":1.1", uint32(i+1))
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
			leave()
		}()
	}
	wg.Wait()
	for i, got := range order {
		if got != i {
			t.Fatalf("handlers ran in order %v", order)
		}
	}
	// A call the interceptor never saw runs at once.
	q.enter(":1.2", 9)()
}

func TestSequencerSkipsStalledTicket(t *testing.T) {
	q := newSequencer()
	q.stall = 10 * time.Millisecond
	q.issue(":1.1", 1) // its handler never runs
	q.issue(":1.1", 2)
	done := make(chan struct{})
	go func() {
		q.enter(":1.1", 2)()
		close(done)
	}()
	<-done // would hang forever without the stall bound
	q.issue(":1.1", 3)
	q.enter(":1.1", 3)()
}
