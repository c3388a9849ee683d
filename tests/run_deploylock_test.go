package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/porthole-dev/porthole/internal/testenv"
	"golang.org/x/sys/unix"
)

// refLocked is flatpak's dir_is_locked, which runtime/installation's
// inUse repeats: would a write lock on DEPLOY/files/.ref conflict?
func refLocked(t *testing.T, deploy string) bool {
	t.Helper()
	return fileLocked(t, filepath.Join(deploy, "files", ".ref"))
}

// fileLocked reports whether a write lock on path would conflict (the
// test flatpak makes on deployments' and instances' .ref).
func fileLocked(t *testing.T, path string) bool {
	t.Helper()
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	lk := unix.Flock_t{Type: unix.F_WRLCK}
	if err := unix.FcntlFlock(uintptr(fd), unix.F_GETLK, &lk); err != nil {
		t.Fatal(err)
	}
	return lk.Type != unix.F_UNLCK
}

// activeDeploy returns the active deployment directory of an installed ref.
func activeDeploy(t *testing.T, inst, kindIDArchBranch string) string {
	t.Helper()
	base := filepath.Join(inst, kindIDArchBranch)
	active, err := os.Readlink(filepath.Join(base, "active"))
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(base, active)
}

// TestRunLocksDeployments: while `porthole run` (or `flatpak run`) runs an
// app, the app's and the runtime's deployments are locked the way flatpak
// checks before it deletes a replaced or uninstalled deployment, so
// neither tool's update removes files a running app uses; the locks go
// with the sandbox.
func TestRunLocksDeployments(t *testing.T) {
	b := needRunBins(t)
	needRunFixture(t)
	inst, err := buildOtherApp()
	if err != nil {
		t.Fatal(err)
	}
	app := activeDeploy(t, inst, "app/org.test.Other/x86_64/master")
	rt := activeDeploy(t, inst, "runtime/org.test.Platform/x86_64/master")
	testenv.ForEachUser(t, func(t *testing.T, u testenv.User) {
		home := testenv.SharedTempDir(t, u)
		xdg := testenv.RuntimeDir(t, u)
		t.Cleanup(func() {
			if d, err := os.Readlink(filepath.Join(xdg, ".flatpak", "org.test.Other", "dev-shm")); err == nil && strings.HasPrefix(d, "/dev/shm/flatpak-") {
				os.RemoveAll(d)
			}
		})
		for _, bin := range []string{b.porthole, "flatpak"} {
			if refLocked(t, app) || refLocked(t, rt) {
				t.Fatalf("%s: locked before the run", bin)
			}
			// The shm tool waits for a file: the app runs until the test
			// puts it there.
			cmd, out := startUserRun(t, u, inst, home, xdg, bin, "run", "--user", "--allow=per-app-dev-shm", "org.test.Other", "wait", "never", "ls")
			locked := false
			for n := 0; n < 200 && !locked; n++ {
				time.Sleep(50 * time.Millisecond)
				locked = refLocked(t, app) && refLocked(t, rt)
			}
			if !locked {
				t.Errorf("%s run: app locked %v, runtime locked %v while it runs\n%s", filepath.Base(bin), refLocked(t, app), refLocked(t, rt), out.String())
			}
			// The instance directory's .ref too, which flatpak's instance
			// collection checks before it removes the directory.
			iref := instanceRef(t, xdg, "org.test.Other")
			if iref == "" || !fileLocked(t, iref) {
				t.Errorf("%s run: instance .ref %q not locked while it runs", filepath.Base(bin), iref)
			}
			// End the app: the file it waits for, in the /dev/shm it shares
			// with the host (per-app-dev-shm).
			shm, err := os.Readlink(filepath.Join(xdg, ".flatpak", "org.test.Other", "dev-shm"))
			if err != nil {
				cmd.Process.Kill()
				t.Fatalf("%s run: no per-app /dev/shm: %v\n%s", filepath.Base(bin), err, out.String())
			}
			os.WriteFile(filepath.Join(shm, "never"), nil, 0o644)
			if err := cmd.Wait(); err != nil {
				t.Errorf("%s run: %v\n%s", filepath.Base(bin), err, out.String())
			}
			os.Remove(filepath.Join(shm, "never"))
			free := false
			for n := 0; n < 200 && !free; n++ {
				free = !refLocked(t, app) && !refLocked(t, rt)
				time.Sleep(50 * time.Millisecond)
			}
			if !free || (iref != "" && fileLockedQuiet(iref)) {
				t.Errorf("%s run: still locked after it ended", filepath.Base(bin))
			}
		}
	})
}

// instanceRef returns the .ref of the running instance of appID under
// XDG_RUNTIME_DIR xdg ("" when there is none).
func instanceRef(t *testing.T, xdg, appID string) string {
	t.Helper()
	base := filepath.Join(xdg, ".flatpak")
	ents, _ := os.ReadDir(base)
	for _, e := range ents {
		info, err := os.ReadFile(filepath.Join(base, e.Name(), "info"))
		ref := filepath.Join(base, e.Name(), ".ref")
		if err == nil && strings.Contains(string(info), "name="+appID+"\n") && fileLockedQuiet(ref) {
			return ref
		}
	}
	return ""
}

func fileLockedQuiet(path string) bool {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	lk := unix.Flock_t{Type: unix.F_WRLCK}
	return unix.FcntlFlock(uintptr(fd), unix.F_GETLK, &lk) == nil && lk.Type != unix.F_UNLCK
}
