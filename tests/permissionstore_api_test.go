package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/porthole-dev/porthole/internal/testbus"
)

const (
	psNotFound    = "org.freedesktop.portal.Error.NotFound"
	psInvalidArgs = "org.freedesktop.portal.Error.InvalidArgument"
	psFailed      = "org.freedesktop.portal.Error.Failed"
)

// psChanged is one Changed signal.
type psChanged struct {
	Table, ID string
	Deleted   bool
	Data      dbus.Variant
	Perms     map[string][]string
}

// psWatch subscribes conn to Changed and returns the next signal's reader.
func psWatch(t *testing.T, conn *dbus.Conn) func() psChanged {
	t.Helper()
	if err := conn.AddMatchSignal(dbus.WithMatchInterface(psIface), dbus.WithMatchMember("Changed")); err != nil {
		t.Fatal(err)
	}
	ch := make(chan *dbus.Signal, 64)
	conn.Signal(ch)
	return func() psChanged {
		t.Helper()
		for s := range ch {
			if s.Name != psIface+".Changed" {
				continue
			}
			var c psChanged
			if err := dbus.Store(s.Body, &c.Table, &c.ID, &c.Deleted, &c.Data, &c.Perms); err != nil {
				t.Fatalf("Changed body %v: %v", s.Body, err)
			}
			return c
		}
		t.Fatal("signal channel closed")
		return psChanged{}
	}
}

var psCmp = cmp.Options{cmp.Comparer(func(a, b dbus.Variant) bool {
	return a.Signature() == b.Signature() && fmt.Sprint(a.Value()) == fmt.Sprint(b.Value())
})}

func TestPermissionStoreAPI(t *testing.T) {
	bus := testbus.New(t)
	home := t.TempDir()
	p := psStart(t, bus, psBinary(t, "ours"), home)
	conn := bus.Conn(t)
	obj := psObject(conn)
	next := psWatch(t, conn)

	// version property
	v, err := obj.GetProperty(psIface + ".version")
	if err != nil || v.Value() != uint32(2) {
		t.Errorf("version = %v, %v; want uint32 2", v, err)
	}

	// Missing entries: NotFound from every method that needs one.
	for _, c := range []struct {
		method string
		args   []any
	}{
		{"Lookup", []any{"t", "x"}},
		{"GetPermission", []any{"t", "x", "a"}},
		{"Delete", []any{"t", "x"}},
		{"DeletePermission", []any{"t", "x", "a"}},
		{"Set", []any{"t", false, "x", map[string][]string{}, dbus.MakeVariant(true)}},
		{"SetValue", []any{"t", false, "x", dbus.MakeVariant(true)}},
		{"SetPermission", []any{"t", false, "x", "a", []string{"yes"}}},
	} {
		if got := psErrName(obj, c.method, c.args...); got != psNotFound {
			t.Errorf("%s on a missing entry: error %q, want %s", c.method, got, psNotFound)
		}
	}

	// SetPermission creates an entry with data byte 0.
	psCall(t, obj, "SetPermission", "notifications", true, "notification", "org.example.A", []string{"yes"})
	want := psChanged{"notifications", "notification", false, dbus.MakeVariant(byte(0)), map[string][]string{"org.example.A": {"yes"}}}
	if diff := cmp.Diff(want, next(), psCmp); diff != "" {
		t.Errorf("Changed after SetPermission (-want +got):\n%s", diff)
	}
	if got := psLookup(t, obj, "notifications", "notification"); !cmp.Equal(got, psEntry{want.Perms, want.Data}, psCmp) {
		t.Errorf("Lookup = %+v", got)
	}
	// An app with an empty list is stored but not reported.
	psCall(t, obj, "SetPermission", "notifications", false, "notification", "org.example.B", []string{})
	next()
	if got := psLookup(t, obj, "notifications", "notification").Perms; !cmp.Equal(got, map[string][]string{"org.example.A": {"yes"}}) {
		t.Errorf("Lookup perms with an empty app list = %v", got)
	}
	var perms []string
	psCall(t, obj, "GetPermission", "notifications", "notification", "org.example.A").Store(&perms)
	if !cmp.Equal(perms, []string{"yes"}) {
		t.Errorf("GetPermission(A) = %q", perms)
	}
	for _, app := range []string{"org.example.B", "no-such-app"} {
		psCall(t, obj, "GetPermission", "notifications", "notification", app).Store(&perms)
		if len(perms) != 0 {
			t.Errorf("GetPermission(%s) = %q, want []", app, perms)
		}
	}

	// Set replaces the whole entry; data of a composite type survives.
	type docData struct {
		Path     []byte
		Dev, Ino uint64
		Flags    uint32
	}
	doc := dbus.MakeVariant(docData{[]byte("/home/u/a.txt\x00"), 2049, 131, 0})
	psCall(t, obj, "Set", "documents", true, "abc", map[string][]string{"org.example.B": {"read"}, "org.example.A": {"read", "write"}}, doc)
	got := next()
	if got.Deleted || got.Table != "documents" || got.ID != "abc" || got.Data.Signature().String() != "(ayttu)" ||
		!cmp.Equal(got.Perms, map[string][]string{"org.example.A": {"read", "write"}, "org.example.B": {"read"}}) {
		t.Errorf("Changed after Set = %+v", got)
	}
	e := psLookup(t, obj, "documents", "abc")
	var back docData
	if err := dbus.Store([]any{e.Data.Value()}, &back); err != nil || e.Data.Signature().String() != "(ayttu)" || !cmp.Equal(back, doc.Value()) {
		t.Errorf("Lookup data = %v, want %v", e.Data, doc)
	}
	psCall(t, obj, "Set", "documents", false, "abc", map[string][]string{"org.example.C": {"read"}}, doc)
	next()
	if got := psLookup(t, obj, "documents", "abc").Perms; !cmp.Equal(got, map[string][]string{"org.example.C": {"read"}}) {
		t.Errorf("perms after Set replaced them = %v", got)
	}

	// SetValue keeps permissions; creates with none.
	psCall(t, obj, "SetValue", "documents", false, "abc", dbus.MakeVariant(map[string]dbus.Variant{"k": dbus.MakeVariant(int32(-5))}))
	got = next()
	if got.Data.Signature().String() != "a{sv}" || !cmp.Equal(got.Perms, map[string][]string{"org.example.C": {"read"}}) {
		t.Errorf("Changed after SetValue = %+v", got)
	}
	psCall(t, obj, "SetValue", "documents", true, "def", dbus.MakeVariant("text"))
	next()
	if e := psLookup(t, obj, "documents", "def"); len(e.Perms) != 0 || e.Data.Value() != "text" {
		t.Errorf("Lookup after SetValue(create) = %+v", e)
	}

	// List, DeletePermission, Delete.
	var ids []string
	psCall(t, obj, "List", "documents").Store(&ids)
	if !cmp.Equal(ids, []string{"abc", "def"}) {
		t.Errorf("List = %q", ids)
	}
	psCall(t, obj, "List", "no-such-table").Store(&ids)
	if len(ids) != 0 {
		t.Errorf("List(new table) = %q", ids)
	}
	psCall(t, obj, "DeletePermission", "documents", "abc", "org.example.C")
	if got := next(); got.Deleted || len(got.Perms) != 0 {
		t.Errorf("Changed after DeletePermission = %+v", got)
	}
	psCall(t, obj, "Delete", "documents", "def")
	got = next()
	if !got.Deleted || got.ID != "def" || got.Data.Value() != "text" || len(got.Perms) != 0 {
		t.Errorf("Changed after Delete = %+v (want deleted, old data, no permissions)", got)
	}
	if name := psErrName(obj, "Lookup", "documents", "def"); name != psNotFound {
		t.Errorf("Lookup after Delete: %q", name)
	}

	// Refused arguments.
	if name := psErrName(obj, "List", "../escape"); name != psInvalidArgs {
		t.Errorf("List(../escape) error %q, want %s", name, psInvalidArgs)
	}
	if name := psErrName(obj, "Lookup", "only-one-arg"); name != "org.freedesktop.DBus.Error.InvalidArgs" {
		t.Errorf("Lookup with a wrong signature: error %q, want org.freedesktop.DBus.Error.InvalidArgs", name)
	}
	if name := psErrName(obj, "NoSuchMethod"); name != "org.freedesktop.DBus.Error.UnknownMethod" {
		t.Errorf("unknown method: error %q, want org.freedesktop.DBus.Error.UnknownMethod", name)
	}
	// The calls above did not hold up the sequence.
	psCall(t, obj, "List", "documents")

	// Unreadable and unwritable tables: Failed.
	db := filepath.Join(home, "flatpak", "db")
	if err := os.WriteFile(filepath.Join(db, "corrupt"), []byte("GVariant but not really"), 0o644); err != nil {
		t.Fatal(err)
	}
	if name := psErrName(obj, "List", "corrupt"); name != psFailed {
		t.Errorf("List(corrupt table): error %q, want %s", name, psFailed)
	}
	psCall(t, obj, "List", "blocked") // loaded (empty): the file does not exist yet
	if err := os.MkdirAll(filepath.Join(db, "blocked", "in-the-way"), 0o755); err != nil {
		t.Fatal(err)
	}
	if name := psErrName(obj, "SetPermission", "blocked", true, "id", "a", []string{"yes"}); name != psFailed {
		t.Errorf("SetPermission on an unwritable table: error %q, want %s", name, psFailed)
	}

	// Introspection names the interface.
	var xml string
	if err := obj.Call("org.freedesktop.DBus.Introspectable.Introspect", 0).Store(&xml); err != nil || !strings.Contains(xml, psIface) {
		t.Errorf("Introspect: %v %q", err, xml)
	}

	if code := p.stop(t, syscall.SIGHUP); code != 0 {
		t.Errorf("exit status after SIGHUP = %d, want 0\n%s", code, p.stderr)
	}
}

// TestPermissionStoreCallOrder pipelines changes from one connection
// without waiting for replies: the store must apply them in order
// (upstream's test_delete_race, scaled up).
func TestPermissionStoreCallOrder(t *testing.T) {
	bus := testbus.New(t)
	psStart(t, bus, psBinary(t, "ours"), t.TempDir())
	obj := psObject(bus.Conn(t))

	model := map[string]map[string][]string{} // id -> app -> perms
	var calls []*dbus.Call
	for i := range 100 { // under dbus-daemon's 128 pending replies per connection
		id := fmt.Sprintf("id%d", i%7)
		app := fmt.Sprintf("app%d", i%3)
		switch i % 4 {
		case 0, 1:
			perms := []string{fmt.Sprint(i)}
			calls = append(calls, obj.Go(psIface+".SetPermission", 0, nil, "order", true, id, app, perms))
			if model[id] == nil {
				model[id] = map[string][]string{}
			}
			model[id][app] = perms
		case 2:
			calls = append(calls, obj.Go(psIface+".DeletePermission", 0, nil, "order", id, app))
			if model[id] != nil {
				delete(model[id], app)
			}
		case 3:
			calls = append(calls, obj.Go(psIface+".Delete", 0, nil, "order", id))
			delete(model, id)
		}
	}
	for _, c := range calls {
		<-c.Done
	}
	for i := range 7 {
		id := fmt.Sprintf("id%d", i)
		want, ok := model[id]
		if !ok {
			if name := psErrName(obj, "Lookup", "order", id); name != psNotFound {
				t.Errorf("Lookup(%s) error %q, want NotFound", id, name)
			}
			continue
		}
		if got := psLookup(t, obj, "order", id).Perms; !cmp.Equal(got, want) {
			t.Errorf("Lookup(%s) perms = %v, want %v", id, got, want)
		}
	}
}
