package tests

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/porthole-dev/porthole/internal/testbus"
)

// psDoc is the data of a "documents" entry: (ay path, t dev, t ino, u flags).
type psDoc struct {
	Path     []byte
	Dev, Ino uint64
	Flags    uint32
}

// psScenario writes a mix of tables and value types through obj.
func psScenario(t *testing.T, obj dbus.BusObject) {
	t.Helper()
	psCall(t, obj, "SetPermission", "notifications", true, "notification", "org.example.A", []string{"yes"})
	psCall(t, obj, "SetPermission", "notifications", true, "notification", "org.example.B", []string{"no"})
	psCall(t, obj, "SetPermission", "notifications", true, "notification", "org.example.E", []string{})
	psCall(t, obj, "Set", "documents", true, "a1b2c3", map[string][]string{
		"org.example.A": {"read", "write", "grant-permissions", "delete"},
		"org.example.C": {"read"},
	}, dbus.MakeVariant(psDoc{[]byte("/home/u/Documents/report.odt\x00"), 2049, 1234567, 1}))
	psCall(t, obj, "Set", "documents", true, "d4e5f6", map[string][]string{"org.example.B": {"read"}},
		dbus.MakeVariant(psDoc{[]byte("/srv/dir\x00"), 66306, 99, 4}))
	psCall(t, obj, "SetValue", "desktop-used-apps", true, "text/plain", dbus.MakeVariant(map[string]dbus.Variant{"count": dbus.MakeVariant(int32(3))}))
	psCall(t, obj, "SetPermission", "desktop-used-apps", true, "text/plain", "org.gnome.TextEditor", []string{"3", "5"})
	psCall(t, obj, "SetValue", "misc", true, "types", dbus.MakeVariant([]any{"x", int64(-9), 2.5, true, dbus.ObjectPath("/o"), uint16(7), int16(-7)}))
	psCall(t, obj, "SetPermission", "misc", true, "gone", "org.example.A", []string{"yes"})
	psCall(t, obj, "Delete", "misc", "gone")
	psCall(t, obj, "SetPermission", "inhibit", true, "inhibit", "org.example.A", []string{"logout"})
	psCall(t, obj, "DeletePermission", "inhibit", "inhibit", "org.example.A")
}

var psScenarioTables = []string{"notifications", "documents", "desktop-used-apps", "misc", "inhibit"}

// psDump reads every entry of the scenario tables through obj.
func psDump(t *testing.T, obj dbus.BusObject) map[string]psEntry {
	t.Helper()
	out := map[string]psEntry{}
	for _, table := range psScenarioTables {
		var ids []string
		psCall(t, obj, "List", table).Store(&ids)
		for _, id := range ids {
			e := psLookup(t, obj, table, id)
			out[table+"/"+id] = e
			for app := range e.Perms {
				var perms []string
				psCall(t, obj, "GetPermission", table, id, app).Store(&perms)
				if !slices.Equal(perms, e.Perms[app]) {
					t.Errorf("%s/%s: GetPermission(%s) = %q, Lookup says %q", table, id, app, perms, e.Perms[app])
				}
			}
		}
	}
	return out
}

var psVariantCmp = cmp.Comparer(func(a, b dbus.Variant) bool {
	return a.Signature() == b.Signature() && a.String() == b.String()
})

// TestPermissionStoreInterop: each implementation reads the tables the
// other wrote in the same home.
func TestPermissionStoreInterop(t *testing.T) {
	for _, c := range []struct{ writer, reader string }{{"ours", "upstream"}, {"upstream", "ours"}} {
		t.Run(c.writer+"-writes-"+c.reader+"-reads", func(t *testing.T) {
			writer, reader := psBinary(t, c.writer), psBinary(t, c.reader)
			bus := testbus.New(t)
			home := t.TempDir()
			obj := psObject(bus.Conn(t))

			p := psStart(t, bus, writer, home)
			psScenario(t, obj)
			want := psDump(t, obj)
			p.stop(t, syscall.SIGTERM)

			p = psStart(t, bus, reader, home)
			got := psDump(t, obj)
			if diff := cmp.Diff(want, got, psVariantCmp); diff != "" {
				t.Errorf("%s read back what %s wrote differently (-written +read):\n%s", c.reader, c.writer, diff)
			}
			if len(got) != 6 {
				t.Errorf("%d entries, want 6", len(got))
			}
			// The reader can change the other's table and read it back.
			psCall(t, obj, "SetPermission", "notifications", false, "notification", "org.example.C", []string{"ask"})
			p.stop(t, syscall.SIGTERM)
			p = psStart(t, bus, writer, home)
			if e := psLookup(t, obj, "notifications", "notification"); !cmp.Equal(e.Perms, map[string][]string{
				"org.example.A": {"yes"}, "org.example.B": {"no"}, "org.example.C": {"ask"}}) {
				t.Errorf("after a change by %s, %s reads %v", c.reader, c.writer, e.Perms)
			}
			p.stop(t, syscall.SIGTERM)
		})
	}
}

// TestPermissionStoreInteropBytes runs the same calls against both
// implementations in separate homes and compares the table files byte for
// byte: a first session of changes, then a restart that loads the files and
// a second session changing loaded entries. The file layout depends on the
// order of changes (GLib hash order), which our store replays.
func TestPermissionStoreInteropBytes(t *testing.T) {
	upstream := psBinary(t, "upstream")
	ours := psBinary(t, "ours")
	tables := []string{"single", "mixed", "values", "emptied"}

	session := func(obj dbus.BusObject, round int) {
		if round == 0 {
			psCall(t, obj, "SetPermission", "single", true, "inhibit", "org.example.A", []string{"logout", "suspend"})
			psCall(t, obj, "SetValue", "values", true, "only", dbus.MakeVariant([]string{"a", "b"}))
			// A dictionary whose keys are not sorted: its order must be kept.
			type sv struct {
				K string
				V dbus.Variant
			}
			dict := []sv{{"zeta", dbus.MakeVariant(int32(-5))}, {"alpha", dbus.MakeVariant("text")},
				{"mid", dbus.MakeVariantWithSignature([]sv{{"y", dbus.MakeVariant(byte(1))}, {"b", dbus.MakeVariant([]string{})}}, dbus.ParseSignatureMust("a{sv}"))}}
			psCall(t, obj, "SetValue", "values", true, "dict", dbus.MakeVariantWithSignature(dict, dbus.ParseSignatureMust("a{sv}")))
			psCall(t, obj, "SetPermission", "emptied", true, "x", "org.example.A", []string{"yes"})
			psCall(t, obj, "Delete", "emptied", "x")
		}
		for i := range 40 {
			id := fmt.Sprintf("doc-%d", (i*7+round*3)%25)
			app := fmt.Sprintf("org.example.App%d", (i+round)%6)
			switch (i + round) % 5 {
			case 0, 1:
				psCall(t, obj, "SetPermission", "mixed", true, id, app, []string{"read", fmt.Sprint(i)})
			case 2:
				perms := map[string][]string{app: {"read"}, fmt.Sprintf("org.example.App%d", (i+3)%6): {"write", "read"}}
				psCall(t, obj, "Set", "mixed", true, id, perms, dbus.MakeVariant(psDoc{[]byte("/p/" + id + "\x00"), uint64(i), 7, uint32(i % 3)}))
			case 3:
				psErrName(obj, "DeletePermission", "mixed", id, app)
			case 4:
				if i%3 == 0 {
					psErrName(obj, "Delete", "mixed", id)
				} else {
					psCall(t, obj, "SetPermission", "mixed", true, id, app, []string{})
				}
			}
		}
	}
	homes := map[string]string{"upstream": t.TempDir(), "ours": t.TempDir()}
	for round := range 2 {
		lists := map[string][]string{}
		for which, bin := range map[string]string{"upstream": upstream, "ours": ours} {
			bus := testbus.New(t)
			p := psStart(t, bus, bin, homes[which])
			obj := psObject(bus.Conn(t))
			session(obj, round)
			var ids []string
			psCall(t, obj, "List", "mixed").Store(&ids)
			lists[which] = ids
			p.stop(t, syscall.SIGTERM)
		}
		if diff := cmp.Diff(lists["upstream"], lists["ours"]); diff != "" {
			t.Errorf("session %d: List(mixed) differs (-upstream +ours):\n%s", round, diff)
		}
		for _, table := range tables {
			want, err := os.ReadFile(filepath.Join(homes["upstream"], "flatpak", "db", table))
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(filepath.Join(homes["ours"], "flatpak", "db", table))
			if err != nil {
				t.Fatal(err)
			}
			if table == "mixed" {
				t.Logf("session %d: table mixed is %d bytes", round, len(got))
			}
			if !bytes.Equal(got, want) {
				t.Errorf("session %d, table %s: our file (%d bytes) differs from xdg-permission-store's (%d bytes)", round, table, len(got), len(want))
			}
		}
	}
}
