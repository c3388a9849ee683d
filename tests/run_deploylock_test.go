package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/porthole-dev/porthole/internal/testenv"
	"golang.org/x/sys/unix"
)

// refLocked is flatpak's dir_is_locked, which runtime/installation's
// inUse repeats: would a write lock on DEPLOY/files/.ref conflict?
func refLocked(deploy string) bool {
	return fileLocked(filepath.Join(deploy, "files", ".ref"))
}

// fileLocked reports whether a write lock on path would conflict (the
// test flatpak makes on deployments' and instances' .ref); false when
// path cannot be opened.
func fileLocked(path string) bool {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	lk := unix.Flock_t{Type: unix.F_WRLCK}
	return unix.FcntlFlock(uintptr(fd), unix.F_GETLK, &lk) == nil && lk.Type != unix.F_UNLCK
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
			if refLocked(app) || refLocked(rt) {
				t.Fatalf("%s: locked before the run", bin)
			}
			// The shm tool waits for a file: the app runs until the test
			// puts it there.
			cmd, out := startUserRun(t, u, inst, home, xdg, bin, "run", "--user", "--allow=per-app-dev-shm", "org.test.Other", "wait", "never", "ls")
			locked := false
			for n := 0; n < 200 && !locked; n++ {
				time.Sleep(50 * time.Millisecond)
				locked = refLocked(app) && refLocked(rt)
			}
			if !locked {
				t.Errorf("%s run: app locked %v, runtime locked %v while it runs\n%s", filepath.Base(bin), refLocked(app), refLocked(rt), out.String())
			}
			// The instance directory's .ref too, which flatpak's instance
			// collection checks before it removes the directory.
			iref := instanceRef(t, xdg, "org.test.Other")
			if iref == "" || !fileLocked(iref) {
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
				free = !refLocked(app) && !refLocked(rt)
				time.Sleep(50 * time.Millisecond)
			}
			if !free || (iref != "" && fileLocked(iref)) {
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
		if err == nil && strings.Contains(string(info), "name="+appID+"\n") && fileLocked(ref) {
			return ref
		}
	}
	return ""
}

// TestUpdateKeepsRunningApp, in both directions with the real flatpak: an
// update by one tool while the other runs the app moves the running
// deployment to .removed/ID-COMMIT, marked .updated, with its files
// intact; once the app has ended, the next operation of either tool
// deletes it.
func TestUpdateKeepsRunningApp(t *testing.T) {
	b := needRunBins(t)
	needRunFixture(t)
	tool, err := buildShmTool()
	if err != nil {
		t.Fatal(err)
	}
	shmtool, err := os.ReadFile(filepath.Join(tool, "shmtool"))
	if err != nil {
		t.Fatal(err)
	}
	// (t.TempDir's parent is private: the unprivileged user must reach it)
	dir, err := os.MkdirTemp("", "porthole-lock-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	rt, app, repo, inst := filepath.Join(dir, "rt"), filepath.Join(dir, "app"), filepath.Join(dir, "repo"), filepath.Join(dir, "inst")
	for _, d := range []string{rt + "/files", rt + "/usr", app + "/files/bin", app + "/var"} {
		os.MkdirAll(d, 0o755)
	}
	os.WriteFile(rt+"/metadata", []byte("[Runtime]\nname=org.test.Platform\nruntime=org.test.Platform/x86_64/master\nsdk=org.test.Platform/x86_64/master\n"), 0o644)
	os.WriteFile(app+"/files/bin/shmtool", shmtool, 0o755)
	os.WriteFile(app+"/metadata", []byte("[Application]\nname=org.test.Lock\nruntime=org.test.Platform/x86_64/master\nsdk=org.test.Platform/x86_64/master\ncommand=shmtool\n"), 0o644)
	tools := map[string]string{"porthole": b.porthole, "flatpak": "flatpak"}
	do := func(t *testing.T, tool string, args ...string) {
		t.Helper()
		cmd := exec.Command(tools[tool], args...)
		cmd.Env = append(os.Environ(), "FLATPAK_USER_DIR="+inst, "PORTHOLE_USER_DIR="+inst, "PORTHOLE_SYSTEM_DIR="+filepath.Join(dir, "no-system"))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v\n%s", tool, strings.Join(args, " "), err, out)
		}
	}
	version := 0
	publish := func(t *testing.T) {
		version++
		os.WriteFile(app+"/files/version", []byte(strconv.Itoa(version)), 0o644)
		do(t, "flatpak", "build-export", repo, app, "master")
	}
	do(t, "flatpak", "build-export", "--runtime", repo, rt, "master")
	do(t, "flatpak", "build-finish", app)
	publish(t)
	do(t, "flatpak", "--user", "remote-add", "--no-gpg-verify", "test", "file://"+repo)
	do(t, "flatpak", "--user", "install", "-y", "--noninteractive", "test", "org.test.Platform", "org.test.Lock")
	exec.Command("chmod", "-R", "a+rX", dir).Run()

	testenv.ForEachUser(t, func(t *testing.T, u testenv.User) {
		home := testenv.SharedTempDir(t, u)
		xdg := testenv.RuntimeDir(t, u)
		t.Cleanup(func() {
			if d, err := os.Readlink(filepath.Join(xdg, ".flatpak", "org.test.Lock", "dev-shm")); err == nil && strings.HasPrefix(d, "/dev/shm/flatpak-") {
				os.RemoveAll(d)
			}
		})
		for _, pair := range [][2]string{{"porthole", "flatpak"}, {"flatpak", "porthole"}} {
			runner, updater := pair[0], pair[1]
			running := activeDeploy(t, inst, "app/org.test.Lock/x86_64/master")
			cmd, out := startUserRun(t, u, inst, home, xdg, tools[runner], "run", "--user", "--allow=per-app-dev-shm", "org.test.Lock", "wait", "done", "ls")
			for n := 0; n < 200 && !refLocked(running); n++ {
				time.Sleep(50 * time.Millisecond)
			}
			publish(t)
			do(t, updater, "update", "--user", "-y", "--noninteractive", "org.test.Lock")
			if activeDeploy(t, inst, "app/org.test.Lock/x86_64/master") == running {
				t.Fatalf("%s update did not deploy a new commit", updater)
			}
			kept := filepath.Join(inst, ".removed", "org.test.Lock-"+filepath.Base(running))
			if _, err := os.Stat(filepath.Join(kept, "files", "bin", "shmtool")); err != nil {
				t.Errorf("%s update while %s runs the app: its files are gone: %v", updater, runner, err)
			}
			if _, err := os.Stat(filepath.Join(kept, "files", ".updated")); err != nil {
				t.Errorf("%s update: no .updated marker: %v", updater, err)
			}
			// End the app, then any operation of the updater collects it.
			shm, err := os.Readlink(filepath.Join(xdg, ".flatpak", "org.test.Lock", "dev-shm"))
			if err != nil {
				cmd.Process.Kill()
				t.Fatalf("%s run: no per-app /dev/shm: %v\n%s", runner, err, out.String())
			}
			os.WriteFile(filepath.Join(shm, "done"), nil, 0o644)
			if err := cmd.Wait(); err != nil {
				t.Errorf("%s run: %v\n%s", runner, err, out.String())
			}
			os.Remove(filepath.Join(shm, "done"))
			publish(t)
			do(t, updater, "update", "--user", "-y", "--noninteractive", "org.test.Lock")
			if _, err := os.Stat(kept); err == nil {
				t.Errorf("%s: the retired deployment is kept after the app ended", updater)
			}
			exec.Command("chmod", "-R", "a+rX", inst).Run()
		}
	})
}
