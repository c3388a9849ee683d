// Command portal-client is the demo app's portal client. In the sandbox
// ("app" mode) it calls the NetworkMonitor, Settings and Documents portals
// through the session bus proxy; on the host ("host-export", "host-info")
// it exports a file to the app through the Documents portal, which needs
// a file descriptor, so a shell with gdbus cannot do it.
//
//	portal-client app DOC_PATH HIDDEN_PATH...
//	portal-client net
//	portal-client host-export FILE APPID [PERM...]
//	portal-client host-info DOC_ID
//	portal-client host-settings
//
// Built static (CGO_ENABLED=0) into the demo app's files/bin at demo time.
package main

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/godbus/dbus/v5"
	"golang.org/x/sys/unix"
)

const (
	desktopName = "org.freedesktop.portal.Desktop"
	desktopPath = dbus.ObjectPath("/org/freedesktop/portal/desktop")
	docsName    = "org.freedesktop.portal.Documents"
	docsPath    = dbus.ObjectPath("/org/freedesktop/portal/documents")
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: portal-client app|host-export|host-info ...")
		os.Exit(2)
	}
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		fmt.Fprintln(os.Stderr, "portal-client: cannot connect to the session bus:", err)
		os.Exit(1)
	}
	defer conn.Close()
	var code int
	switch os.Args[1] {
	case "app":
		code = app(conn, os.Args[2:])
	case "net":
		code = network(conn.Object(desktopName, desktopPath))
	case "host-export":
		code = hostExport(conn, os.Args[2:])
	case "host-settings":
		code = hostSettings(conn)
	case "host-info":
		code = hostInfo(conn, os.Args[2:])
	default:
		fmt.Fprintln(os.Stderr, "portal-client: unknown mode", os.Args[1])
		code = 2
	}
	os.Exit(code)
}

// app runs in the sandbox; every failure is printed and counted.
func app(conn *dbus.Conn, args []string) int {
	failed := 0
	fail := func(what string, err error) {
		failed++
		fmt.Printf("  %s: FAILED: %v\n", what, err)
	}
	desktop := conn.Object(desktopName, desktopPath)
	fmt.Printf("  session bus: %s (my name %s)\n", os.Getenv("DBUS_SESSION_BUS_ADDRESS"), conn.Names()[0])

	failed += network(desktop)

	fmt.Println("  -> org.freedesktop.portal.Settings")
	var all map[string]map[string]dbus.Variant
	if err := desktop.Call("org.freedesktop.portal.Settings.ReadAll", 0, []string{"org.freedesktop.appearance"}).Store(&all); err != nil {
		fail("ReadAll", err)
	} else {
		fmt.Printf("  ReadAll([org.freedesktop.appearance]) = %d namespace(s)\n", len(all))
		for _, ns := range sortedKeys(all) {
			fmt.Printf("    %s: %s\n", ns, variants(all[ns]))
		}
	}
	var one dbus.Variant
	if err := desktop.Call("org.freedesktop.portal.Settings.ReadOne", 0, "org.freedesktop.appearance", "color-scheme").Store(&one); err != nil {
		fmt.Printf("  ReadOne(org.freedesktop.appearance, color-scheme): %v\n", err)
	} else {
		fmt.Printf("  ReadOne(org.freedesktop.appearance, color-scheme) = %s\n", one)
	}

	fmt.Println("  -> org.freedesktop.portal.Documents")
	var mount []byte
	if err := conn.Object(docsName, docsPath).Call(docsName+".GetMountPoint", 0).Store(&mount); err != nil {
		fail("GetMountPoint", err)
	} else {
		fmt.Printf("  GetMountPoint() = %s (host side; the sandbox sees its own documents at /run/flatpak/doc)\n", strings.TrimRight(string(mount), "\x00"))
	}
	if ents, err := os.ReadDir("/run/flatpak/doc"); err != nil {
		fail("listing /run/flatpak/doc", err)
	} else {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		fmt.Printf("  ls /run/flatpak/doc: %s\n", strings.Join(names, " "))
	}
	if len(args) > 0 {
		data, err := os.ReadFile(args[0])
		if err != nil {
			fail("reading the exported document", err)
		} else {
			fmt.Printf("  cat %s: %s\n", args[0], strings.TrimSpace(string(data)))
		}
	}
	// GetHostPaths answers a sandboxed caller only for documents granted
	// to its app, so its answer shows which app the portal took us for.
	var ids []string
	for _, p := range args {
		if rest, ok := strings.CutPrefix(p, "/run/flatpak/doc/"); ok {
			ids = append(ids, strings.SplitN(rest, "/", 2)[0])
		}
	}
	var hostPaths map[string][]byte
	if err := conn.Object(docsName, docsPath).Call(docsName+".GetHostPaths", 0, ids).Store(&hostPaths); err != nil {
		fail("GetHostPaths", err)
	} else {
		fmt.Printf("  GetHostPaths(%s) answers for: ", strings.Join(ids, ", "))
		for _, id := range sortedKeys(hostPaths) {
			fmt.Printf("%s=%s ", id, strings.TrimRight(string(hostPaths[id]), "\x00"))
		}
		fmt.Println()
	}
	for _, p := range args[min(1, len(args)):] {
		if _, err := os.Stat(p); err == nil {
			fail("hidden file", fmt.Errorf("%s is visible in the sandbox", p))
		} else {
			fmt.Printf("  stat %s: not visible (%v)\n", p, unwrapErrno(err))
		}
	}
	if failed > 0 {
		fmt.Printf("  %d portal step(s) failed\n", failed)
		return 1
	}
	return 0
}

// network calls the NetworkMonitor portal and returns the number of
// failed calls.
func network(desktop dbus.BusObject) int {
	failed := 0
	fmt.Println("  -> org.freedesktop.portal.NetworkMonitor")
	var avail bool
	if err := desktop.Call("org.freedesktop.portal.NetworkMonitor.GetAvailable", 0).Store(&avail); err != nil {
		failed++
		fmt.Printf("  GetAvailable(): refused: %v\n", err)
	} else {
		fmt.Printf("  GetAvailable() = %v\n", avail)
	}
	var status map[string]dbus.Variant
	if err := desktop.Call("org.freedesktop.portal.NetworkMonitor.GetStatus", 0).Store(&status); err != nil {
		failed++
		fmt.Printf("  GetStatus(): refused: %v\n", err)
	} else {
		fmt.Printf("  GetStatus() = %s\n", variants(status))
	}
	return failed
}

// hostExport adds FILE to the document store and grants it to APPID.
func hostExport(conn *dbus.Conn, args []string) int {
	if len(args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: portal-client host-export FILE APPID [PERM...]")
		return 2
	}
	perms := args[2:]
	if len(perms) == 0 {
		perms = []string{"read"}
	}
	fd, err := unix.Open(args[0], unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		fmt.Fprintf(os.Stderr, "portal-client: cannot open %s: %v\n", args[0], err)
		return 1
	}
	defer unix.Close(fd)
	docs := conn.Object(docsName, docsPath)
	var id string
	if err := docs.Call(docsName+".Add", 0, dbus.UnixFD(fd), true, false).Store(&id); err != nil {
		fmt.Fprintln(os.Stderr, "portal-client: Documents.Add:", err)
		return 1
	}
	if err := docs.Call(docsName+".GrantPermissions", 0, id, args[1], perms).Err; err != nil {
		fmt.Fprintln(os.Stderr, "portal-client: Documents.GrantPermissions:", err)
		return 1
	}
	fmt.Println(id)
	return 0
}

// hostInfo prints the host path of a document and the apps it is granted to.
func hostInfo(conn *dbus.Conn, args []string) int {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: portal-client host-info DOC_ID")
		return 2
	}
	var path []byte
	var apps map[string][]string
	if err := conn.Object(docsName, docsPath).Call(docsName+".Info", 0, args[0]).Store(&path, &apps); err != nil {
		fmt.Fprintln(os.Stderr, "portal-client: Documents.Info:", err)
		return 1
	}
	fmt.Printf("document %s = %s\n", args[0], strings.TrimRight(string(path), "\x00"))
	for _, a := range sortedKeys(apps) {
		fmt.Printf("  granted to %s: %s\n", a, strings.Join(apps[a], ","))
	}
	return 0
}

// demoSettings is what the host-settings backend serves.
var demoSettings = map[string]map[string]dbus.Variant{
	"org.freedesktop.appearance": {
		"color-scheme":   dbus.MakeVariant(uint32(1)), // prefer dark
		"accent-color":   dbus.MakeVariant([]float64{0.21, 0.52, 0.89}),
		"contrast":       dbus.MakeVariant(uint32(0)),
		"reduced-motion": dbus.MakeVariant(uint32(0)),
	},
}

// settingsImpl is a minimal org.freedesktop.impl.portal.Settings backend.
type settingsImpl struct{}

func (settingsImpl) ReadAll(namespaces []string) (map[string]map[string]dbus.Variant, *dbus.Error) {
	out := map[string]map[string]dbus.Variant{}
	for ns, kv := range demoSettings {
		if matchNamespace(namespaces, ns) {
			out[ns] = kv
		}
	}
	return out, nil
}

func (settingsImpl) Read(ns, key string) (dbus.Variant, *dbus.Error) {
	if v, ok := demoSettings[ns][key]; ok {
		return v, nil
	}
	return dbus.Variant{}, dbus.NewError("org.freedesktop.portal.Error.NotFound", []any{"Requested setting not found"})
}

// matchNamespace reports whether ns is selected: an empty list selects
// all, and a trailing ".*" selects a prefix.
func matchNamespace(patterns []string, ns string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if p == ns || p == "" || strings.HasSuffix(p, ".*") && strings.HasPrefix(ns, strings.TrimSuffix(p, "*")) {
			return true
		}
	}
	return false
}

// hostSettings serves the demo's Settings backend until the bus goes away.
func hostSettings(conn *dbus.Conn) int {
	const name = "org.freedesktop.impl.portal.desktop.demo"
	if err := conn.Export(settingsImpl{}, desktopPath, "org.freedesktop.impl.portal.Settings"); err != nil {
		fmt.Fprintln(os.Stderr, "portal-client:", err)
		return 1
	}
	if r, err := conn.RequestName(name, dbus.NameFlagDoNotQueue); err != nil || r != dbus.RequestNameReplyPrimaryOwner {
		fmt.Fprintf(os.Stderr, "portal-client: cannot own %s: %v\n", name, err)
		return 1
	}
	<-conn.Context().Done()
	return 0
}

func variants(m map[string]dbus.Variant) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, k+"="+m[k].String())
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func unwrapErrno(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
