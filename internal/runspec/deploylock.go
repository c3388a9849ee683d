package runspec

import (
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// lockDeployments takes the read lock a running sandbox holds on files/.ref
// of every deployment it uses (runtime, app, extensions), as bubblewrap's
// --lock-file does for flatpak run: an update or uninstall, ours or
// Flatpak's, keeps a locked deployment's files until the lock is gone
// (runtime/installation/retire.go). The locks are open file description
// locks on descriptors kept in the Result: they last while the run process
// (which waits for its sandbox) holds them. A deployment without .ref (a
// build directory) is not locked.
func (b *builder) lockDeployments() {
	dirs := []string{b.in.RuntimeFiles, b.in.AppFiles, b.in.OriginalAppFiles}
	for _, e := range append(append([]Extension(nil), b.in.AppExtensions...), b.in.RuntimeExtensions...) {
		dirs = append(dirs, e.Files)
	}
	seen := map[string]bool{}
	for _, d := range dirs {
		ref := refFile(d)
		if ref == "" || seen[ref] {
			continue
		}
		seen[ref] = true
		b.lockRef(ref, false)
	}
}

// lockRef takes a read lock on the file ref (made first when create) and
// keeps its descriptor in b.locks. The instance directory's .ref is locked
// as flatpak locks its own: flatpak's instance collection removes the
// directory of an instance whose .ref nobody locks any more, and leaves
// the others (and directories without .ref) alone.
func (b *builder) lockRef(ref string, create bool) {
	flags := unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NOFOLLOW
	if create {
		flags = unix.O_RDWR | unix.O_CREAT | unix.O_CLOEXEC | unix.O_NOFOLLOW
	}
	fd, err := unix.Open(ref, flags, 0o644)
	if err != nil {
		return
	}
	lk := unix.Flock_t{Type: unix.F_RDLCK}
	if err := unix.FcntlFlock(uintptr(fd), unix.F_OFD_SETLK, &lk); err != nil {
		unix.Close(fd)
		return
	}
	b.locks = append(b.locks, fd)
}

// refFile returns the .ref of the deployment whose files directory is
// dir, or contains it (an extension may be mounted from a subdirectory of
// its files), or "" when there is none.
func refFile(dir string) string {
	if dir == "" {
		return ""
	}
	if p := filepath.Join(dir, ".ref"); isRegular(p) {
		return p
	}
	if i := strings.LastIndex(dir, "/files/"); i >= 0 {
		if p := dir[:i] + "/files/.ref"; isRegular(p) {
			return p
		}
	}
	return ""
}

func isRegular(p string) bool {
	fi, err := os.Lstat(p)
	return err == nil && fi.Mode().IsRegular()
}

func closeFDs(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}
