package installation

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/porthole-dev/porthole/runtime/ref"
	"golang.org/x/sys/unix"
)

// A running sandbox holds a read lock on files/.ref of every deployment it
// uses (its app, runtime and extensions), as bubblewrap's --lock-file does
// for flatpak run. A deployment that is replaced or uninstalled is moved to
// DIR/.removed/ID-COMMIT, marked (files/.updated or files/.removed, which
// an app may look for to offer a restart) and deleted only once no sandbox
// holds that lock: at once if none does, else by a later operation. These
// are flatpak 1.14's rules and names (flatpak_dir_undeploy, dir_is_locked,
// flatpak_dir_cleanup_removed), so the two tools keep each other's running
// apps' files.

// retire takes the deployment at dir (a commit directory of r) out of
// use; update says whether it is replaced by a newer one. An update
// deletes an unused deployment at once; an uninstall leaves that to the
// Prune that follows (which deletes while it prunes the repository).
func (i *Installation) retire(r ref.Ref, dir string, update bool) {
	removed := filepath.Join(i.Dir, ".removed")
	if err := os.MkdirAll(removed, 0o755); err != nil {
		os.RemoveAll(dir)
		return
	}
	dest := filepath.Join(removed, r.ID+"-"+filepath.Base(dir))
	if _, err := os.Lstat(dest); err == nil {
		// An older retired copy of the same commit: keep it (a sandbox
		// may use it) under a free name, as flatpak does.
		if old, err := os.MkdirTemp(removed, r.ID+"-"); err == nil {
			os.Remove(old)
			os.Rename(dest, old)
		}
	}
	if err := os.Rename(dir, dest); err != nil {
		os.RemoveAll(dir)
		return
	}
	marker := ".removed"
	if update {
		marker = ".updated"
	}
	if f, err := os.Create(filepath.Join(dest, "files", marker)); err == nil {
		f.Close()
	}
	if update && !inUse(dest) {
		os.RemoveAll(dest)
	}
}

// inUse reports whether a sandbox holds a lock on the deployment's
// files/.ref: whether a write lock would conflict (fcntl F_GETLK sees
// both process-associated and open file description locks).
func inUse(dir string) bool {
	fd, err := unix.Open(filepath.Join(dir, "files", ".ref"), unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	lk := unix.Flock_t{Type: unix.F_WRLCK}
	if err := unix.FcntlFlock(uintptr(fd), unix.F_GETLK, &lk); err != nil {
		return false
	}
	return lk.Type != unix.F_UNLCK
}

// cleanRemoved deletes the retired deployments no sandbox uses any more.
func (i *Installation) cleanRemoved() {
	removed := filepath.Join(i.Dir, ".removed")
	ents, err := os.ReadDir(removed)
	if err != nil {
		return
	}
	for _, e := range ents {
		p := filepath.Join(removed, e.Name())
		if e.IsDir() && !inUse(p) {
			os.RemoveAll(p)
		}
	}
}

// retireAll retires every deployment directory of r but keep (a commit
// directory name, or "").
func (i *Installation) retireAll(r ref.Ref, keep string, update bool) {
	base := i.refDir(r)
	ents, _ := os.ReadDir(base)
	for _, e := range ents {
		if e.IsDir() && e.Name() != keep && !strings.HasPrefix(e.Name(), ".") {
			i.retire(r, filepath.Join(base, e.Name()), update)
		}
	}
}
