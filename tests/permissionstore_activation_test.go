package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/porthole-dev/porthole/internal/testbus"
)

// TestPermissionStoreActivation installs data/dbus-1/services' file the way
// `make install` does (@libexecdir@ replaced by the directory of the
// binary) and checks that a call activates the store.
func TestPermissionStoreActivation(t *testing.T) {
	bin := psBinary(t, "ours")
	src, err := os.ReadFile(filepath.Join("..", "data", "dbus-1", "services", psName+".service"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(src), "Exec=@libexecdir@/porthole-permission-store") {
		t.Fatalf("service file does not run @libexecdir@/porthole-permission-store:\n%s", src)
	}
	home := t.TempDir()
	bus := testbus.Start(t, testbus.Options{Env: []string{"XDG_DATA_HOME=" + home}})
	svc := strings.ReplaceAll(string(src), "@libexecdir@", filepath.Dir(bin))
	if err := os.WriteFile(filepath.Join(bus.ServiceDir(), psName+".service"), []byte(svc), 0o644); err != nil {
		t.Fatal(err)
	}
	conn := bus.Conn(t)
	if err := conn.BusObject().Call("org.freedesktop.DBus.ReloadConfig", 0).Err; err != nil {
		t.Fatal(err)
	}
	obj := psObject(conn)
	psCall(t, obj, "SetPermission", "activated", true, "id", "org.example.A", []string{"yes"})
	if _, err := os.Stat(filepath.Join(home, "flatpak", "db", "activated")); err != nil {
		t.Errorf("activated store did not write under its XDG_DATA_HOME: %v", err)
	}
}
