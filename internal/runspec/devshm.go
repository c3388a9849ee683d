package runspec

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/porthole-dev/porthole/launcher"
	"github.com/porthole-dev/porthole/runtime/permissions"
)

// Per-app /dev/shm (features=per-app-dev-shm), as Flatpak 1.14 lays it
// out: the per-app directory $XDG_RUNTIME_DIR/.flatpak/ID holds a symlink
// dev-shm to a directory /dev/shm/flatpak-ID-XXXXXX (mode 0700, marked by
// an empty .flatpak-tmpdir), which every instance of the app that is not
// run with --sandbox binds at /dev/shm. Both are removed once no instance
// holds the per-app lock: by Flatpak's instance garbage collection, and
// by us when a run finds the lock free (we keep no dead instance
// directories for a later collection to find), so the two tools share
// the one directory and clean up each other's.

const (
	devShmLink = "dev-shm"
	devShmFlag = ".flatpak-tmpdir"
	hostDevShm = "/dev/shm"
)

// lockPerAppDir takes the shared lock on dir/.ref that keeps Flatpak's
// garbage collection away from the per-app directories, waiting while a
// collection holds it exclusively. When no instance of appID holds it,
// the app's stale /dev/shm is removed first, under the exclusive lock.
// The lock is an open file description lock on the returned descriptor:
// it lasts until the descriptor is closed (by the process exiting, as the
// run process waits for its sandbox).
func lockPerAppDir(dir, appID string) (int, error) {
	ref := filepath.Join(dir, ".ref")
	fd, err := unix.Open(ref, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return -1, fmt.Errorf("cannot lock %s: %w", ref, err)
	}
	ex := unix.Flock_t{Type: unix.F_WRLCK}
	if unix.FcntlFlock(uintptr(fd), unix.F_OFD_SETLK, &ex) == nil {
		collectDevShm(dir, appID)
	}
	// Converts the exclusive lock, if taken, with no gap.
	lk := unix.Flock_t{Type: unix.F_RDLCK, Whence: 0}
	for {
		err = unix.FcntlFlock(uintptr(fd), unix.F_OFD_SETLKW, &lk)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("cannot lock %s: %w", ref, err)
	}
	return fd, nil
}

// claimDevShm returns the directory the per-app link names when it is
// one this user made for appID: the link must point straight at
// /dev/shm/flatpak-ID-*, a directory (not a symlink) owned by the caller
// and holding the flag file. /dev/shm is writable by everyone, so
// anything else is refused.
func claimDevShm(perAppDir, appID string) (string, error) {
	target, err := os.Readlink(filepath.Join(perAppDir, devShmLink))
	if err != nil {
		return "", err
	}
	name, ok := strings.CutPrefix(target, hostDevShm+"/")
	if !ok || strings.Contains(name, "/") {
		return "", fmt.Errorf("%s is not directly in %s", target, hostDevShm)
	}
	if !strings.HasPrefix(name, "flatpak-"+appID+"-") {
		return "", fmt.Errorf("%s is not named flatpak-%s-*", target, appID)
	}
	dfd, err := unix.Open(target, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("opening %s: %w", target, err)
	}
	defer unix.Close(dfd)
	var st unix.Stat_t
	if err := unix.Fstat(dfd, &st); err != nil {
		return "", fmt.Errorf("reading %s: %w", target, err)
	}
	if int(st.Uid) != os.Geteuid() {
		return "", fmt.Errorf("%s does not belong to this user", target)
	}
	ffd, err := unix.Openat(dfd, devShmFlag, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("opening %s/%s: %w", target, devShmFlag, err)
	}
	unix.Close(ffd)
	return target, nil
}

// collectDevShm removes the per-app link and the directory it names, if
// that is one of ours; the caller holds the exclusive lock.
func collectDevShm(perAppDir, appID string) {
	dir, err := claimDevShm(perAppDir, appID)
	os.Remove(filepath.Join(perAppDir, devShmLink))
	if err == nil {
		os.RemoveAll(dir)
	}
}

// ensureDevShm returns the app's shared /dev/shm directory on the host,
// reusing the one the per-app link names or making a new one and
// pointing the link at it. Runs starting together take turns (flock on
// the per-app directory), so they agree on one directory.
func ensureDevShm(perAppDir, appID string) (string, error) {
	pfd, err := unix.Open(perAppDir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("cannot open %s: %w", perAppDir, err)
	}
	defer unix.Close(pfd)
	for {
		err = unix.Flock(pfd, unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		return "", fmt.Errorf("cannot lock %s: %w", perAppDir, err)
	}
	if dir, err := claimDevShm(perAppDir, appID); err == nil {
		return dir, nil
	}
	dir, err := mkdtemp(filepath.Join(hostDevShm, "flatpak-"+appID+"-"))
	if err != nil {
		return "", err
	}
	// The flag marks the directory as ours to reuse and remove.
	f, err := os.OpenFile(filepath.Join(dir, devShmFlag), os.O_RDONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return "", fmt.Errorf("cannot create %s: %w", dir, err)
	}
	f.Close()
	link := filepath.Join(perAppDir, devShmLink)
	if err := os.Remove(link); err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("cannot update %s: %w", link, err)
	}
	if err := os.Symlink(dir, link); err != nil {
		return "", fmt.Errorf("cannot update %s: %w", link, err)
	}
	return dir, nil
}

// perAppDevShm reports whether the run shares the app's /dev/shm: the
// feature is granted, shm is not, and the per-app directories are in
// use (not under --sandbox).
func (b *builder) perAppDevShm() bool {
	return b.perAppLock >= 0 && b.ctx.Has(permissions.KeyFeatures, "per-app-dev-shm") &&
		!b.ctx.Has(permissions.KeyDevices, "shm")
}

// devShmMount is /dev/shm (or, on hosts where /dev/shm links to
// /run/shm, the linked path under --device=all) bound to the app's shared
// directory.
func (b *builder) devShmMount(dest string) error {
	dir, err := ensureDevShm(filepath.Dir(b.xdgRun), b.in.AppID)
	if err != nil {
		return err
	}
	b.add(launcher.Mount{Type: launcher.Bind, Source: dir, Dest: dest})
	return nil
}

// unlock releases the per-app lock of a build that failed.
func (b *builder) unlock() {
	if b.perAppLock >= 0 {
		unix.Close(b.perAppLock)
		b.perAppLock = -1
	}
	closeFDs(b.locks)
	b.locks = nil
}

// mkdtemp makes the directory prefix+XXXXXX (six random letters and
// digits, as g_mkdtemp names them) with mode 0700.
func mkdtemp(prefix string) (string, error) {
	const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	var buf [6]byte
	for range 100 {
		rand.Read(buf[:])
		for i, c := range buf {
			buf[i] = chars[int(c)%len(chars)]
		}
		dir := prefix + string(buf[:])
		err := os.Mkdir(dir, 0o700)
		if err == nil {
			return dir, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("cannot create %s: %w", dir, err)
		}
	}
	return "", fmt.Errorf("cannot create %sXXXXXX: no free name", prefix)
}
