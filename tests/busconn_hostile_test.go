package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/godbus/dbus/v5"
	"golang.org/x/sys/unix"

	"github.com/porthole-dev/porthole/internal/busconn/busconntest"
	"github.com/porthole-dev/porthole/internal/testenv"
)

// bcHostile is one message with descriptors that godbus's own transport
// would crash on or mishandle.
type bcHostile struct {
	name    string
	iface   string
	member  string
	body    []any
	nfds    int
	wantErr bool
}

func bcIdx(v ...uint32) []dbus.UnixFDIndex {
	out := make([]dbus.UnixFDIndex, len(v))
	for i, x := range v {
		out[i] = dbus.UnixFDIndex(x)
	}
	return out
}

// bcSend sends each hostile message to dest/path and checks the service
// answers, stays alive and ends with as many descriptors as it started.
func bcSend(t *testing.T, addr, dest string, path dbus.ObjectPath, pid int, alive func() bool, cases []bcHostile) {
	t.Helper()
	cl := busconntest.Dial(t, addr)
	ping := func() {
		t.Helper()
		if m := cl.Call(dest, path, "org.freedesktop.DBus.Peer", "Ping", nil, -1); m.Type != dbus.TypeMethodReply {
			t.Fatalf("Ping = %v", m.Body)
		}
	}
	ping()
	base := busconntest.FDCount(t, pid)
	for _, tc := range cases {
		fds := busconntest.Files(t, tc.nfds, "hostile")
		m := cl.Call(dest, path, tc.iface, tc.member, tc.body, -1, fds...)
		for _, fd := range fds {
			unix.Close(fd)
		}
		if tc.wantErr && m.Type != dbus.TypeError {
			t.Errorf("%s: %s.%s = %v, want an error", tc.name, tc.iface, tc.member, m.Body)
		}
		if !alive() {
			t.Fatalf("%s: the service died", tc.name)
		}
		ping()
		if n := busconntest.WaitFDCount(t, pid, base); n != base {
			t.Errorf("%s: %d descriptors open, want %d", tc.name, n, base)
		}
	}
}

func bcPidOf(t *testing.T, conn *dbus.Conn, name string) int {
	t.Helper()
	var pid uint32
	if err := conn.BusObject().Call("org.freedesktop.DBus.GetConnectionUnixProcessID", 0, name).Store(&pid); err != nil {
		t.Fatal(err)
	}
	return int(pid)
}

// TestBusconnHostilePortal sends porthole-portal and
// porthole-permission-store descriptors in every shape that used to kill
// them, then checks Email attachments still reach the backend.
func TestBusconnHostilePortal(t *testing.T) {
	e := ptSetup(t)
	fe := e.startFrontend(t, true)
	tok := dbus.MakeVariant("bc1")
	opts := func(kv ...any) map[string]dbus.Variant {
		m := map[string]dbus.Variant{"handle_token": tok}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = dbus.MakeVariant(kv[i+1])
		}
		return m
	}
	email := ptPortal + "Email"
	cases := []bcHostile{
		{"ah in a{sv}", email, "ComposeEmail", []any{"", opts("attachment_fds", bcIdx(0, 1))}, 2, false},
		{"h and ah in variants", email, "ComposeEmail", []any{"", opts("attachment_fds", bcIdx(0), "x", dbus.UnixFDIndex(1), "y", map[string]dbus.Variant{"z": dbus.MakeVariant(bcIdx(2))})}, 3, false},
		{"more fds than referenced", email, "ComposeEmail", []any{"", opts("attachment_fds", bcIdx(3))}, 6, false},
		{"indices out of range", email, "ComposeEmail", []any{"", opts("attachment_fds", bcIdx(0, 9, 4294967295))}, 1, true},
		{"wrong signature", email, "ComposeEmail", []any{bcIdx(0, 1), "x"}, 2, true},
		{"ah to OpenFile", ptPortal + "OpenURI", "OpenFile", []any{"", bcIdx(0), opts()}, 1, true},
		{"Trash without a descriptor", ptPortal + "Trash", "TrashFile", []any{dbus.UnixFDIndex(5)}, 0, true},
		{"a{hs}", ptPortal + "Settings", "ReadAll", []any{map[dbus.UnixFDIndex]string{0: "x"}}, 1, true},
	}
	alive := fe.alive
	bcSend(t, e.bus.Address(), ptDesktopName, ptDesktopPath, fe.cmd.Process.Pid, alive, cases)

	// The permission store.
	psPid := bcPidOf(t, e.conn, psName)
	psAlive := func() bool { return unix.Kill(psPid, 0) == nil }
	bcSend(t, e.bus.Address(), psName, psPath, psPid, psAlive, []bcHostile{
		{"ah", "org.freedesktop.impl.portal.PermissionStore", "Lookup", []any{bcIdx(0, 1)}, 2, true},
		{"a{sv} with h", "org.freedesktop.impl.portal.PermissionStore", "SetValue", []any{"t", true, "id",
			dbus.MakeVariant(map[string]dbus.Variant{"fd": dbus.MakeVariant(dbus.UnixFDIndex(0)), "fds": dbus.MakeVariant(bcIdx(1, 2))})}, 4, false},
		{"unknown method", "org.freedesktop.impl.portal.PermissionStore", "Nope", []any{bcIdx(0)}, 1, true},
	})

	// Attachments reach the backend as paths of the files passed.
	att := e.file(t, "attachment.txt", "attached")
	fd, err := unix.Open(att, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	code, _ := ptRequest(t, e.conn, "Email.ComposeEmail", "", map[string]dbus.Variant{
		"subject": dbus.MakeVariant("files"), "attachment_fds": dbus.MakeVariant([]dbus.UnixFD{dbus.UnixFD(fd)})})
	if code != 0 {
		t.Fatalf("ComposeEmail = %d, want 0", code)
	}
	c := e.backend.last(t, "Email.ComposeEmail")
	got, _ := c.Args[3].(ptResults)["attachments"].Value().([]string)
	if len(got) != 1 {
		t.Fatalf("backend attachments = %v, want one", got)
	}
	p := strings.TrimPrefix(got[0], "file://")
	if data, err := os.ReadFile(p); err != nil || string(data) != "attached" {
		t.Errorf("attachment %s reads %q, %v", got[0], data, err)
	}
	if filepath.Base(p) != "attachment.txt" {
		t.Errorf("attachment = %s, want …/attachment.txt", got[0])
	}
}

// TestBusconnHostileDocumentPortal does the same for
// porthole-document-portal, then checks AddFull still exports files.
func TestBusconnHostileDocumentPortal(t *testing.T) {
	testenv.RequireRoot(t)
	e := docpSetup(t, testenv.Root())
	a := e.file(t, "doc.txt", "document")
	pid := e.portal.cmd.Process.Pid
	alive := func() bool { return unix.Kill(pid, 0) == nil }
	none := []string{}
	bcSend(t, e.bus.Address(), docpName, docpPath, pid, alive, []bcHostile{
		{"AddFull ah", docpIface, "AddFull", []any{bcIdx(0, 1), uint32(0), "org.example.A", none}, 2, false},
		{"AddFull more fds than referenced", docpIface, "AddFull", []any{bcIdx(4), uint32(0), "", none}, 6, false},
		{"AddFull indices out of range", docpIface, "AddFull", []any{bcIdx(0, 3, 4294967295), uint32(0), "", none}, 1, true},
		{"AddFull without descriptors", docpIface, "AddFull", []any{bcIdx(0), uint32(0), "", none}, 0, true},
		{"Add with ah", docpIface, "Add", []any{bcIdx(0, 1), true, false}, 2, true},
		{"AddFiles a{sv} with h and ah", docpFT, "AddFiles", []any{"nokey", bcIdx(0), map[string]dbus.Variant{
			"x": dbus.MakeVariant(dbus.UnixFDIndex(1)), "y": dbus.MakeVariant(bcIdx(2, 0))}}, 3, true},
		{"a{sh} where none is expected", docpIface, "Lookup", []any{map[string]dbus.UnixFDIndex{"a": 0}}, 1, true},
	})
	// A well-behaved caller (godbus's own transport sends fds fine).
	fd, err := unix.Open(a, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	var ids []string
	var extra map[string]dbus.Variant
	if err := e.obj().Call(docpIface+".AddFull", 0, []dbus.UnixFD{dbus.UnixFD(fd)}, uint32(0), "", []string{}).Store(&ids, &extra); err != nil {
		t.Fatalf("AddFull: %v", err)
	}
	if len(ids) != 1 {
		t.Fatalf("AddFull = %v, want one id", ids)
	}
	if data, err := os.ReadFile(filepath.Join(e.mount, ids[0], "doc.txt")); err != nil || string(data) != "document" {
		t.Errorf("exported document reads %q, %v", data, err)
	}
}
