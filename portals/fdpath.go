package portals

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// pathForFD returns the host path of a file descriptor a caller passed
// and whether the caller may write it, following upstream's rules: O_PATH
// fds only for flatpak/host callers, otherwise O_RDONLY or O_RDWR; the
// path is remapped from the sandbox's view and must still name the same
// inode.
func pathForFD(app *AppInfo, fd int) (string, bool, error) {
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return "", false, fmt.Errorf("%w: invalid fd", ErrInvalidArgument)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return "", false, fmt.Errorf("%w: invalid fd", ErrInvalidArgument)
	}
	link, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil || !filepath.IsAbs(link) {
		return "", false, fmt.Errorf("%w: fd has no usable path", ErrInvalidArgument)
	}
	if strings.HasSuffix(link, " (deleted)") {
		return "", false, fmt.Errorf("%w: file was deleted", ErrInvalidArgument)
	}
	writable := false
	if flags&unix.O_PATH != 0 {
		if app.Kind == KindSnap {
			return "", false, fmt.Errorf("%w: O_PATH fds not allowed", ErrInvalidArgument)
		}
		if flags&unix.O_NOFOLLOW != 0 {
			return "", false, fmt.Errorf("%w: O_PATH|O_NOFOLLOW fds not allowed", ErrInvalidArgument)
		}
		proc := "/proc/self/fd/" + strconv.Itoa(fd)
		if unix.Access(proc, unix.R_OK) != nil {
			return "", false, fmt.Errorf("%w: fd not readable", ErrInvalidArgument)
		}
		writable = app.IsHost() || unix.Access(proc, unix.W_OK) == nil
	} else {
		switch flags & unix.O_ACCMODE {
		case unix.O_RDONLY:
		case unix.O_RDWR:
			writable = true
		default:
			return "", false, fmt.Errorf("%w: fd must be O_RDONLY or O_RDWR", ErrInvalidArgument)
		}
	}
	path := hostPath(app, link)
	var st2 unix.Stat_t
	if err := unix.Stat(path, &st2); err != nil || st2.Dev != st.Dev || st2.Ino != st.Ino {
		return "", false, fmt.Errorf("%w: fd does not match its path", ErrInvalidArgument)
	}
	return path, writable, nil
}

// hostPath maps a path as seen inside a flatpak sandbox to the host.
func hostPath(app *AppInfo, p string) string {
	if app.Kind != KindFlatpak {
		return p
	}
	if rest, ok := strings.CutPrefix(p, "/newroot"); ok {
		p = rest
	}
	runtimeDir := os.Getenv("XDG_RUNTIME_DIR")
	home, _ := os.UserHomeDir()
	swap := []struct{ from, to string }{
		{"/app", app.AppPath},
		{"/usr", app.RuntimePath},
		{"/run/host/usr", "/usr"},
		{"/run/host/etc", "/etc"},
		{"/run/flatpak/app", filepath.Join(runtimeDir, "app")},
		{"/run/flatpak/doc", filepath.Join(runtimeDir, "doc")},
		{"/var/config", filepath.Join(home, ".var", "app", app.ID, "config")},
		{"/var/data", filepath.Join(home, ".var", "app", app.ID, "data")},
	}
	for _, s := range swap {
		if s.to == "" {
			continue
		}
		if p == s.from || strings.HasPrefix(p, s.from+"/") {
			return s.to + p[len(s.from):]
		}
	}
	return p
}
