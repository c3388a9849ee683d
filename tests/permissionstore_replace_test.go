package tests

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/porthole-dev/porthole/internal/testbus"
)

// TestPermissionStoreFileReplaced: a table file replaced behind a running
// store's back is not reloaded; the store keeps serving what it loaded and
// its next write replaces the file. xdg-permission-store behaves the same;
// the test runs against both.
func TestPermissionStoreFileReplaced(t *testing.T) {
	for _, which := range []string{"ours", "upstream"} {
		t.Run(which, func(t *testing.T) {
			bin := psBinary(t, which)
			bus := testbus.New(t)
			home, other := t.TempDir(), t.TempDir()
			obj := psObject(bus.Conn(t))

			// A file with entry "theirs", written in another home.
			p := psStart(t, bus, bin, other)
			psCall(t, obj, "SetPermission", "t", true, "theirs", "a", []string{"yes"})
			p.stop(t, syscall.SIGTERM)

			p = psStart(t, bus, bin, home)
			psCall(t, obj, "SetPermission", "t", true, "mine", "a", []string{"yes"})
			db := filepath.Join(home, "flatpak", "db", "t")
			tmp := db + ".new"
			data, err := os.ReadFile(filepath.Join(other, "flatpak", "db", "t"))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(tmp, data, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, db); err != nil {
				t.Fatal(err)
			}
			psLookup(t, obj, "t", "mine")
			if name := psErrName(obj, "Lookup", "t", "theirs"); name != psNotFound {
				t.Errorf("Lookup(theirs) after the file was replaced: %q, want NotFound (no reload)", name)
			}
			psCall(t, obj, "SetPermission", "t", true, "later", "a", []string{"no"})
			p.stop(t, syscall.SIGTERM)

			p = psStart(t, bus, bin, home)
			var ids []string
			psCall(t, obj, "List", "t").Store(&ids)
			if len(ids) != 2 || psErrName(obj, "Lookup", "t", "theirs") != psNotFound {
				t.Errorf("ids after restart = %q, want mine and later", ids)
			}
			p.stop(t, syscall.SIGTERM)
		})
	}
}

// TestPermissionStoreReplace: one store hands the bus name to another
// started with --replace, in both directions between ours and upstream;
// the replaced store exits.
func TestPermissionStoreReplace(t *testing.T) {
	for _, c := range []struct{ first, second string }{{"ours", "upstream"}, {"upstream", "ours"}, {"ours", "ours"}} {
		t.Run(c.first+"-replaced-by-"+c.second, func(t *testing.T) {
			bus := testbus.New(t)
			home := t.TempDir()
			obj := psObject(bus.Conn(t))
			first := psStart(t, bus, psBinary(t, c.first), home)
			psCall(t, obj, "SetPermission", "t", true, "id", "a", []string{"yes"})

			// A second store of ours without --replace does not take the name.
			if c.second == "ours" {
				if err := psCommand(bus, psBinary(t, "ours"), home).Run(); err == nil {
					t.Error("second store without --replace exited 0, want an error (name taken)")
				}
			}

			second := psLaunch(t, bus, psBinary(t, c.second), home, "--replace")
			second.waitOwner(t, bus)
			<-first.done // the replaced store exits
			if e := psLookup(t, obj, "t", "id"); len(e.Perms) != 1 {
				t.Errorf("after replacement Lookup = %+v", e)
			}
			second.stop(t, syscall.SIGTERM)
		})
	}
}
