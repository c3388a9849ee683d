package runspec

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/porthole-dev/porthole/internal/testenv"
	"github.com/porthole-dev/porthole/launcher"
)

// TestEnsureDevShm makes the app's directory once, reuses it through the
// link, and replaces links that do not name a directory of ours.
func TestEnsureDevShm(t *testing.T) {
	fi, err := os.Stat(hostDevShm)
	testenv.Require(t, err == nil && fi.IsDir(), "needs a /dev/shm directory")
	perApp := t.TempDir()
	const app = "org.test.DevShm"
	var made []string
	t.Cleanup(func() {
		for _, d := range made {
			os.RemoveAll(d)
		}
	})
	ensure := func() string {
		t.Helper()
		d, err := ensureDevShm(perApp, app)
		if err != nil {
			t.Fatal(err)
		}
		made = append(made, d)
		return d
	}
	first := ensure()
	if !regexp.MustCompile(`^/dev/shm/flatpak-org\.test\.DevShm-[A-Za-z0-9]{6}$`).MatchString(first) {
		t.Fatalf("made %s", first)
	}
	if fi, err := os.Stat(first); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("%s: %v %v", first, fi.Mode(), err)
	}
	if got := ensure(); got != first {
		t.Fatalf("second run made %s, want %s reused", got, first)
	}

	// A directory that is not ours (no flag), a symlink, a directory of
	// another app, a path outside /dev/shm: each replaced by a new one.
	noFlag, err := os.MkdirTemp(hostDevShm, "flatpak-"+app+"-")
	if err != nil {
		t.Fatal(err)
	}
	made = append(made, noFlag)
	other, err := os.MkdirTemp(hostDevShm, "flatpak-org.test.Else-")
	if err != nil {
		t.Fatal(err)
	}
	made = append(made, other)
	os.WriteFile(filepath.Join(other, devShmFlag), nil, 0o600)
	sym := filepath.Join(hostDevShm, "flatpak-"+app+"-sym"+filepath.Base(perApp))
	if err := os.Symlink(first, sym); err != nil {
		t.Fatal(err)
	}
	made = append(made, sym)
	for _, target := range []string{noFlag, other, sym, t.TempDir(), first + "/.flatpak-tmpdir", "/dev/shm/flatpak-" + app} {
		link := filepath.Join(perApp, devShmLink)
		os.Remove(link)
		os.Symlink(target, link)
		if _, err := claimDevShm(perApp, app); err == nil {
			t.Errorf("claimed %s", target)
		}
		if got := ensure(); got == target || got == first {
			t.Errorf("link to %s: got %s, want a new directory", target, got)
		}
	}
}

// TestLockPerAppDir takes the shared lock twice (two instances) and
// checks an exclusive lock, as Flatpak's garbage collection takes it,
// is refused while either is held; the app's /dev/shm is collected by a
// run that finds the lock free, and only then.
func TestLockPerAppDir(t *testing.T) {
	fi, err := os.Stat(hostDevShm)
	testenv.Require(t, err == nil && fi.IsDir(), "needs a /dev/shm directory")
	dir := t.TempDir()
	const app = "org.test.Lock"
	shm := func() string {
		t.Helper()
		d, err := ensureDevShm(dir, app)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(d) })
		return d
	}
	gone := func(p string) bool { _, err := os.Lstat(p); return os.IsNotExist(err) }
	lock := func() int {
		t.Helper()
		fd, err := lockPerAppDir(dir, app)
		if err != nil {
			t.Fatal(err)
		}
		return fd
	}
	stale := shm()
	a := lock()
	if !gone(stale) || !gone(filepath.Join(dir, devShmLink)) {
		t.Fatalf("%s not collected by a run finding the lock free", stale)
	}
	live := shm()
	b := lock()
	if gone(live) {
		t.Fatalf("%s collected while an instance holds the lock", live)
	}
	gc := func() error {
		fd, err := unix.Open(filepath.Join(dir, ".ref"), unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		lk := unix.Flock_t{Type: unix.F_WRLCK}
		return unix.FcntlFlock(uintptr(fd), unix.F_OFD_SETLK, &lk)
	}
	if gc() == nil {
		t.Fatal("exclusive lock taken while two instances hold it")
	}
	unix.Close(a)
	if gc() == nil {
		t.Fatal("exclusive lock taken while one instance holds it")
	}
	unix.Close(b)
	if err := gc(); err != nil {
		t.Fatalf("exclusive lock refused after both released: %v", err)
	}
	unix.Close(lock())
	if !gone(live) {
		t.Fatalf("%s not collected after the last instance", live)
	}
}

// TestBuildDevShm: the mount /dev/shm gets with the feature and the
// devices, and the feature recorded in /.flatpak-info's [Context].
func TestBuildDevShm(t *testing.T) {
	fi, err := os.Stat(hostDevShm)
	testenv.Require(t, err == nil && fi.IsDir(), "needs a /dev/shm directory")
	shmMount := func(res *Result) launcher.Mount {
		var last launcher.Mount
		for _, m := range res.Spec.Mounts {
			if m.Dest == "/dev/shm" {
				last = m
			}
		}
		if last.Type == launcher.Bind && strings.HasPrefix(last.Source, "/dev/shm/flatpak-") {
			os.RemoveAll(last.Source)
			last.Source = "/dev/shm/flatpak-*"
		}
		return last
	}
	for _, c := range []struct {
		opts []string
		want launcher.Mount
	}{
		{nil, launcher.Mount{}},
		{[]string{"--allow=per-app-dev-shm"}, launcher.Mount{Type: launcher.Bind, Source: "/dev/shm/flatpak-*", Dest: "/dev/shm"}},
		{[]string{"--allow=per-app-dev-shm", "--device=all"}, launcher.Mount{Type: launcher.Bind, Source: "/dev/shm/flatpak-*", Dest: "/dev/shm"}},
		{[]string{"--device=all"}, launcher.Mount{Type: launcher.Tmpfs, Dest: "/dev/shm", Mode: 0o1777}},
		{[]string{"--allow=per-app-dev-shm", "--device=shm"}, launcher.Mount{Type: launcher.Bind, Source: "/dev/shm", Dest: "/dev/shm", Optional: true}},
	} {
		res, _ := build(t, c.opts...)
		unix.Close(res.PerAppLock)
		if got := shmMount(res); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%v: /dev/shm mount %+v, want %+v", c.opts, got, c.want)
		}
		if feat := slices.Contains(c.opts, "--allow=per-app-dev-shm"); feat != strings.Contains(string(res.Info.Bytes()), "features=per-app-dev-shm;\n") {
			t.Errorf("%v: /.flatpak-info:\n%s", c.opts, res.Info.Bytes())
		}
	}
}
