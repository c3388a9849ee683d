package portals

import (
	"os"
	"runtime"
	"sync"
	"testing"

	"github.com/godbus/dbus/v5"
)

func openFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// TestManyClientsVanishing runs clients in parallel; half of them leave
// while their requests are pending. Nothing may stay behind.
func TestManyClientsVanishing(t *testing.T) {
	h := newHarness(t)
	h.addFileChooser(false)
	h.writeConf("[preferred]\ndefault=test;\n")
	h.env["XDG_DESKTOP_PORTAL_TEST_APP_ID"] = "org.example.Test"
	h.start()
	baseG, baseFD := runtime.NumGoroutine(), openFDs(t)

	const clients, requests = 20, 25
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c, err := dbus.Connect(h.bus.Address())
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			obj := c.Object(BusName, DesktopPath)
			calls := make([]*dbus.Call, 0, requests)
			for j := 0; j < requests; j++ {
				opts := map[string]dbus.Variant{"handle_token": dbus.MakeVariant("t")}
				calls = append(calls, obj.Go(portalIface+"FileChooser.OpenFile", 0, nil, "", "", opts))
			}
			if i%2 == 0 {
				return // vanish with requests in flight
			}
			for _, call := range calls {
				<-call.Done
				if call.Err != nil {
					errs <- call.Err
					return
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("client: %v", err)
	}
	h.waitEmpty(0)
	// Goroutines and fds of finished requests are released asynchronously;
	// wait for them with bus round trips, not with timers.
	for i := 0; ; i++ {
		g, fd := runtime.NumGoroutine(), openFDs(t)
		if g <= baseG+2 && fd <= baseFD {
			break
		}
		if i > 5000 {
			t.Fatalf("goroutines %d (before %d), fds %d (before %d)", g, baseG, fd, baseFD)
		}
		_ = h.srv.Conn().BusObject().Call("org.freedesktop.DBus.GetId", 0).Err
		runtime.Gosched()
	}
}
