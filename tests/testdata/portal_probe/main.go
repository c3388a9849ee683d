// Command portal_probe calls the desktop portal from inside a sandbox and
// prints what it got as key=value lines, for each argument in order:
// "account" (the Response of Account.GetUserInformation) or "register"
// (the error of Registry.Register).
package main

import (
	"fmt"
	"os"

	"github.com/godbus/dbus/v5"
)

func put(k string, v any) { fmt.Printf("%s=%v\n", k, v) }

func errName(err error) string {
	if e, ok := err.(dbus.Error); ok {
		return e.Name
	}
	if err != nil {
		return err.Error()
	}
	return "none"
}

func main() {
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		put("error", err)
		os.Exit(1)
	}
	defer conn.Close()
	portal := conn.Object("org.freedesktop.portal.Desktop", "/org/freedesktop/portal/desktop")
	ch := make(chan *dbus.Signal, 8)
	conn.Signal(ch)
	if err := conn.AddMatchSignal(dbus.WithMatchInterface("org.freedesktop.portal.Request"), dbus.WithMatchMember("Response")); err != nil {
		put("error", err)
		os.Exit(1)
	}
	for _, arg := range os.Args[1:] {
		switch arg {
		case "account":
			account(conn, portal, ch)
		case "register":
			put("register", errName(portal.Call("org.freedesktop.host.portal.Registry.Register", 0, "org.example.Fake", map[string]dbus.Variant{}).Err))
		}
	}
}

func account(conn *dbus.Conn, portal dbus.BusObject, ch chan *dbus.Signal) {
	var handle dbus.ObjectPath
	opts := map[string]dbus.Variant{"handle_token": dbus.MakeVariant("probe"), "reason": dbus.MakeVariant("probe")}
	if err := portal.Call("org.freedesktop.portal.Account.GetUserInformation", 0, "", opts).Store(&handle); err != nil {
		put("account-error", errName(err))
		return
	}
	for sig := range ch {
		if sig.Path == handle && len(sig.Body) == 2 {
			put("account-response", sig.Body[0])
			res, _ := sig.Body[1].(map[string]dbus.Variant)
			put("account-id", res["id"].Value())
			return
		}
	}
}
