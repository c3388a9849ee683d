package portals

import (
	"sync"
	"testing"

	"github.com/godbus/dbus/v5"
)

// countingSettings is a Settings backend that counts its Read calls.
type countingSettings struct {
	mu    sync.Mutex
	value uint32
	reads int
}

func (s *countingSettings) ReadAll(ns []string) (map[string]map[string]dbus.Variant, *dbus.Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return map[string]map[string]dbus.Variant{"org.freedesktop.appearance": {"color-scheme": dbus.MakeVariant(s.value)}}, nil
}

func (s *countingSettings) Read(ns, key string) (dbus.Variant, *dbus.Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	if ns == "org.freedesktop.appearance" && key == "color-scheme" {
		return dbus.MakeVariant(s.value), nil
	}
	return dbus.Variant{}, dbus.NewError("org.freedesktop.portal.Error.NotFound", []any{"no"})
}

func (s *countingSettings) readCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reads
}

// TestSettingsCache: repeated reads are answered without asking the
// backend again until the backend announces a change.
func TestSettingsCache(t *testing.T) {
	h := newHarness(t)
	be := &countingSettings{value: 1}
	beConn := h.addBackend("one", "org.freedesktop.impl.portal.One", map[string]any{implSettings: be})
	h.writeConf("[preferred]\ndefault=one;\n")
	h.start()

	readOne := func() uint32 {
		t.Helper()
		var v dbus.Variant
		if err := h.portal().Call(portalIface+"Settings.ReadOne", 0, "org.freedesktop.appearance", "color-scheme").Store(&v); err != nil {
			t.Fatal(err)
		}
		u, _ := v.Value().(uint32)
		return u
	}
	for range 3 {
		if got := readOne(); got != 1 {
			t.Fatalf("ReadOne = %d, want 1", got)
		}
	}
	for range 2 {
		if err := h.portal().Call(portalIface+"Settings.ReadOne", 0, "org.freedesktop.appearance", "nope").Err; err == nil {
			t.Fatal("ReadOne(nope) succeeded")
		}
	}
	if n := be.readCount(); n != 2 {
		t.Errorf("backend saw %d reads, want 2 (one per key)", n)
	}

	sigs := make(chan *dbus.Signal, 8)
	h.client.Signal(sigs)
	if err := h.client.AddMatchSignal(dbus.WithMatchInterface(portalIface+"Settings"), dbus.WithMatchMember("SettingChanged")); err != nil {
		t.Fatal(err)
	}
	be.mu.Lock()
	be.value = 2
	be.mu.Unlock()
	if err := beConn.Emit(DesktopPath, implSettings+".SettingChanged", "org.freedesktop.appearance", "color-scheme", dbus.MakeVariant(uint32(2))); err != nil {
		t.Fatal(err)
	}
	for sig := range sigs {
		if sig.Name == portalIface+"Settings.SettingChanged" {
			break
		}
	}
	if got := readOne(); got != 2 {
		t.Errorf("ReadOne after SettingChanged = %d, want 2", got)
	}
	if n := be.readCount(); n != 3 {
		t.Errorf("backend saw %d reads, want 3", n)
	}
}
