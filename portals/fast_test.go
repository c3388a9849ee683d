package portals

import (
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/google/go-cmp/cmp"
)

// TestFastNetworkMonitor: the getters answer the same whether a call goes
// the ordinary way (first call: the caller is identified) or the fast way.
func TestFastNetworkMonitor(t *testing.T) {
	h := newHarness(t)
	h.writeConf("[preferred]\ndefault=none;\n")
	h.start()
	status := func() map[string]any {
		t.Helper()
		var m map[string]dbus.Variant
		if err := h.portal().Call(portalIface+"NetworkMonitor.GetStatus", 0).Store(&m); err != nil {
			t.Fatal(err)
		}
		out := map[string]any{}
		for k, v := range m {
			out[k] = v.Value()
		}
		return out
	}
	first := status()
	for range 3 {
		if diff := cmp.Diff(first, status()); diff != "" {
			t.Errorf("GetStatus changed (-first +now):\n%s", diff)
		}
	}
	for member, key := range map[string]string{"GetAvailable": "available", "GetMetered": "metered", "GetConnectivity": "connectivity"} {
		call := h.portal().Call(portalIface+"NetworkMonitor."+member, 0)
		if call.Err != nil || len(call.Body) != 1 || call.Body[0] != first[key] {
			t.Errorf("%s = %v, %v; want %v", member, call.Body, call.Err, first[key])
		}
	}
}
