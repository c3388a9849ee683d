package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/porthole-dev/porthole/internal/testbus"
)

// TestPermissionStorePersistence: tables survive a restart, and SIGTERM
// and SIGHUP both end the store with status 0.
func TestPermissionStorePersistence(t *testing.T) {
	bin := psBinary(t, "ours")
	bus := testbus.New(t)
	home := t.TempDir()

	p := psStart(t, bus, bin, home)
	obj := psObject(bus.Conn(t))
	psCall(t, obj, "SetPermission", "inhibit", true, "inhibit", "org.example.A", []string{"logout", "suspend"})
	psCall(t, obj, "Set", "location", true, "location", map[string][]string{"org.example.B": {"EXACT", "1700000000"}}, dbus.MakeVariant(uint32(7)))
	psCall(t, obj, "SetValue", "location", true, "other", dbus.MakeVariant([]string{"x"}))
	if code := p.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit status after SIGTERM = %d, want 0\n%s", code, p.stderr)
	}
	for _, name := range []string{"inhibit", "location"} {
		if _, err := os.Stat(filepath.Join(home, "flatpak", "db", name)); err != nil {
			t.Errorf("table file: %v", err)
		}
	}

	p = psStart(t, bus, bin, home)
	e := psLookup(t, obj, "inhibit", "inhibit")
	if !cmp.Equal(e.Perms, map[string][]string{"org.example.A": {"logout", "suspend"}}) || e.Data.Value() != byte(0) {
		t.Errorf("inhibit after restart = %+v", e)
	}
	e = psLookup(t, obj, "location", "location")
	if !cmp.Equal(e.Perms, map[string][]string{"org.example.B": {"EXACT", "1700000000"}}) || e.Data.Value() != uint32(7) {
		t.Errorf("location after restart = %+v", e)
	}
	var ids []string
	psCall(t, obj, "List", "location").Store(&ids)
	if !cmp.Equal(ids, []string{"location", "other"}) {
		t.Errorf("List after restart = %q", ids)
	}
	if code := p.stop(t, syscall.SIGHUP); code != 0 {
		t.Errorf("exit status after SIGHUP = %d, want 0\n%s", code, p.stderr)
	}
}

// TestPermissionStoreKillAfterReply kills the store with SIGKILL right
// after a reply arrives, while more writes are in flight: every write that
// was acknowledged must be there after a restart.
func TestPermissionStoreKillAfterReply(t *testing.T) {
	bin := psBinary(t, "ours")
	bus := testbus.New(t)
	home := t.TempDir()
	obj := psObject(bus.Conn(t))

	acked := map[string]bool{}
	for round := range 8 {
		p := psStart(t, bus, bin, home)
		// Check everything acknowledged so far survived the last kill.
		for id := range acked {
			e := psLookup(t, obj, "crash", id)
			if !cmp.Equal(e.Perms, map[string][]string{"app": {id}}) {
				t.Fatalf("round %d: acknowledged %s lost or wrong: %+v", round, id, e)
			}
		}
		var calls []*dbus.Call
		for i := range 40 {
			id := fmt.Sprintf("r%d-%d", round, i)
			calls = append(calls, obj.Go(psIface+".SetPermission", 0, nil, "crash", true, id, "app", []string{id}))
		}
		// Wait for the (round+1)th reply, then kill at once.
		n := 0
		for _, c := range calls {
			<-c.Done
			if c.Err == nil {
				acked[c.Args[2].(string)] = true
				n++
			}
			if n > round {
				break
			}
		}
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
		// Replies that were already on their way count as acknowledged.
		for _, c := range calls {
			select {
			case <-c.Done:
				if c.Err == nil {
					acked[c.Args[2].(string)] = true
				}
			default:
			}
		}
	}
	p := psStart(t, bus, bin, home)
	for id := range acked {
		if e := psLookup(t, obj, "crash", id); !cmp.Equal(e.Perms, map[string][]string{"app": {id}}) {
			t.Errorf("acknowledged %s lost or wrong: %+v", id, e)
		}
	}
	t.Logf("%d acknowledged writes survived 8 SIGKILLs", len(acked))
	p.stop(t, syscall.SIGTERM)
}
