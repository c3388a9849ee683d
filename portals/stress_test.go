package portals

import (
	"fmt"
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

// TestManyClientsVanishing runs 50 clients of 200 requests each in
// parallel (file chooser requests and, every tenth, a Location session);
// every other client drops its connection with a request waiting for its
// Response and a call not yet answered. No object, goroutine or file
// descriptor may stay behind.
func TestManyClientsVanishing(t *testing.T) {
	h := newHarness(t)
	h.addFileChooser(false)
	h.writeConf("[preferred]\ndefault=test;\n")
	h.env["XDG_DESKTOP_PORTAL_TEST_APP_ID"] = "org.example.Test"
	h.start()
	// Warm up the server's lazily started parts.
	sigs := subscribe(t, h.client)
	if err := h.portal().Call(portalIface+"FileChooser.OpenFile", 0, "", "", map[string]dbus.Variant{}).Err; err != nil {
		t.Fatal(err)
	}
	<-sigs
	baseG, baseFD := runtime.NumGoroutine(), openFDs(t)

	const clients, requests = 50, 200
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if err := stressClient(h.bus.Address(), requests, i%2 == 0); err != nil {
				errs <- fmt.Errorf("client %d: %w", i, err)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	h.waitEmpty(1)
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

// stressClient makes n requests on a new connection, at most 2 waiting
// for their Response at a time (the test bus allows the server 128
// pending calls to its backend). With vanish it leaves with one request
// waiting for its Response and one call not answered yet.
func stressClient(addr string, n int, vanish bool) error {
	c, err := dbus.Connect(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	ch := make(chan *dbus.Signal, n)
	c.Signal(ch)
	if err := c.AddMatchSignal(dbus.WithMatchInterface("org.freedesktop.portal.Request"), dbus.WithMatchMember("Response")); err != nil {
		return err
	}
	obj := c.Object(BusName, DesktopPath)
	outstanding := 0
	response := func() error {
		sig := <-ch
		for sig.Name != "org.freedesktop.portal.Request.Response" {
			sig = <-ch
		}
		outstanding--
		if code := sig.Body[0].(uint32); code != 0 {
			return fmt.Errorf("response %d on %s", code, sig.Path)
		}
		return nil
	}
	for j := 0; j < n; j++ {
		if j%10 == 9 {
			opts := map[string]dbus.Variant{"session_handle_token": dbus.MakeVariant(fmt.Sprintf("s%d", j))}
			if err := obj.Call(portalIface+"Location.CreateSession", 0, opts).Err; err != nil {
				return err
			}
			continue
		}
		last := vanish && j >= n-2 // the last request (n-1 makes a session)
		for outstanding >= 2 {
			if err := response(); err != nil {
				return err
			}
		}
		opts := map[string]dbus.Variant{"handle_token": dbus.MakeVariant(fmt.Sprintf("r%d", j))}
		if last {
			obj.Go(portalIface+"FileChooser.OpenFile", 0, nil, "", "", opts)
			return nil
		}
		if err := obj.Call(portalIface+"FileChooser.OpenFile", 0, "", "", opts).Err; err != nil {
			return err
		}
		outstanding++
	}
	for outstanding > 0 {
		if err := response(); err != nil {
			return err
		}
	}
	return nil
}
