package tests

import (
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/porthole-dev/porthole/internal/testbus"
)

// TestPermissionStoreManyClients: 20 connections pipeline 50 durable writes
// each into one table at the same time, some clients disconnect without
// waiting for their replies; every acknowledged write is applied in each
// client's order and survives a restart.
func TestPermissionStoreManyClients(t *testing.T) {
	bin := psBinary(t, "ours")
	bus := testbus.New(t)
	home := t.TempDir()
	p := psStart(t, bus, bin, home)

	const clients, writes = 20, 50
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for c := range clients {
		conn := bus.Conn(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			obj := psObject(conn)
			var calls []*dbus.Call
			for i := range writes {
				calls = append(calls, obj.Go(psIface+".SetPermission", 0, nil, "stress", true,
					fmt.Sprintf("client%d", c), "app", []string{fmt.Sprint(i)}))
			}
			if c%5 == 4 {
				conn.Close() // vanish mid-request
				return
			}
			for _, call := range calls {
				<-call.Done
				if call.Err != nil {
					errs <- fmt.Errorf("client %d: %v", c, call.Err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d pipelined durable writes from %d clients in %v", clients*writes, clients, time.Since(start))

	obj := psObject(bus.Conn(t))
	check := func(when string) {
		for c := range clients {
			if c%5 == 4 {
				continue // its writes may or may not have been applied
			}
			e := psLookup(t, obj, "stress", fmt.Sprintf("client%d", c))
			if want := map[string][]string{"app": {fmt.Sprint(writes - 1)}}; !cmp.Equal(e.Perms, want) {
				t.Errorf("%s: client%d = %v, want %v (the client's last write)", when, c, e.Perms, want)
			}
		}
	}
	check("before restart")
	if code := p.stop(t, syscall.SIGHUP); code != 0 {
		t.Errorf("exit status %d\n%s", code, p.stderr)
	}
	psStart(t, bus, bin, home)
	check("after restart")
}
