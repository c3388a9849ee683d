package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/godbus/dbus/v5"

	"github.com/porthole-dev/porthole/internal/testenv"
)

// ptProbe builds testdata/portal_probe (static) into a directory every
// user can read.
var ptProbe = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "porthole-portal-probe-")
	if err != nil {
		return "", err
	}
	os.Chmod(dir, 0o755)
	bin := filepath.Join(dir, "portal_probe")
	cmd := exec.Command("go", "build", "-o", bin, "./testdata/portal_probe")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", &buildError{"portal_probe", err, string(out)}
	}
	return bin, nil
})

// TestPortalSandboxIdentity: a process in a `porthole run` sandbox reaches
// the frontend through the sandbox's bus proxy and is identified by its
// app id (the backend is asked for org.test.Probe) and cannot register
// another id; a host process is a host app with no id, and neither
// flatpak's environment variables nor a .flatpak-info of its own make it
// an app.
func TestPortalSandboxIdentity(t *testing.T) {
	b := needRunBins(t)
	f := needRunFixture(t)
	probe, err := ptProbe()
	if err != nil {
		t.Fatal(err)
	}
	e := ptSetup(t)
	e.startFrontend(t, false)

	testenv.ForEachUser(t, func(t *testing.T, u testenv.User) {
		home := testenv.SharedTempDir(t, u)
		n := e.backend.count("Account.GetUserInformation")
		cmd := u.Command(t, b.porthole, "run", "--user", "--filesystem="+filepath.Dir(probe)+":ro", "--command="+probe, "org.test.Probe", "register", "account")
		cmd.Env = testenv.WithEnv(cmd.Env, "HOME="+home, "PORTHOLE_USER_DIR="+f.inst, "PORTHOLE_SYSTEM_DIR="+filepath.Join(home, "none"),
			"DBUS_SESSION_BUS_ADDRESS="+e.bus.Address())
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("porthole run: %v\n%s", err, out)
		}
		got := probeMap(string(out))
		if got["account-response"] != "0" || got["account-id"] != "alice" {
			t.Errorf("GetUserInformation from the sandbox: %q", out)
		}
		if e.backend.count("Account.GetUserInformation") != n+1 {
			t.Fatalf("backend not called once; probe said %q", out)
		}
		if c := e.backend.last(t, "Account.GetUserInformation"); c.Args[1] != "org.test.Probe" {
			t.Errorf("backend app_id for the sandboxed caller = %q, want org.test.Probe", c.Args[1])
		}
		// The frontend refuses it (the bus proxy lets portal calls
		// through), and the app id stays the sandbox's.
		if got["register"] != "org.freedesktop.portal.Error.Failed" {
			t.Errorf("Register from a sandboxed app: %q, want Failed", got["register"])
		}
	})

	t.Run("host", func(t *testing.T) {
		// A fake .flatpak-info in the caller's working directory and
		// flatpak's variables in its environment change nothing: the
		// frontend reads /proc/PID/root/.flatpak-info.
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, ".flatpak-info"), []byte("[Application]\nname=org.test.Probe\n\n[Instance]\ninstance-id=1\n"), 0o644)
		probe, _ := ptProbe()
		cmd := exec.Command(probe, "account", "register")
		cmd.Dir = dir
		cmd.Env = append(e.env(), "FLATPAK_ID=org.test.Probe", "container=flatpak")
		n := e.backend.count("Account.GetUserInformation")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("probe: %v\n%s", err, out)
		}
		got := probeMap(string(out))
		if got["account-response"] != "0" || e.backend.count("Account.GetUserInformation") != n+1 {
			t.Fatalf("host GetUserInformation: %q", out)
		}
		if c := e.backend.last(t, "Account.GetUserInformation"); c.Args[1] != "" {
			t.Errorf("backend app_id for a host caller = %q, want \"\"", c.Args[1])
		}
		// Register after a portal call is refused, also for the host.
		if got["register"] != "org.freedesktop.portal.Error.Failed" {
			t.Errorf("Register after a portal call: %q, want Failed", got["register"])
		}
		// A host app may name itself (upstream trusts the host), but it stays
		// a host app: SetStatus is for sandboxed apps only.
		conn := e.bus.Conn(t)
		portal := conn.Object(ptDesktopName, ptDesktopPath)
		if err := portal.Call("org.freedesktop.host.portal.Registry.Register", 0, "org.test.Probe", map[string]dbus.Variant{}).Err; err != nil {
			t.Fatalf("Register from a fresh host connection: %v", err)
		}
		err = portal.Call(ptPortal+"Background.SetStatus", 0, map[string]dbus.Variant{"message": dbus.MakeVariant("x")}).Err
		if ptErrName(err) != "org.freedesktop.portal.Error.NotAllowed" {
			t.Errorf("SetStatus by a registered host app = %v, want NotAllowed", err)
		}
	})
}
