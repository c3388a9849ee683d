package documentportal

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// fdTarget is what a caller's fd names on the host.
type fdTarget struct {
	path     string
	st       unix.Stat_t // the file itself
	dirSt    unix.Stat_t // its parent directory (files) or itself (directories)
	writable bool
}

type fdKind int

const (
	fdAny fdKind = iota
	fdRegular
	fdDir
)

var errInvalidFD = fmt.Errorf("%w: Invalid fd passed", ErrInvalidArgument)

// pathForFD returns the host path of a caller's fd and whether the caller
// may write it, with upstream's rules: O_PATH fds (not O_NOFOLLOW) must be
// readable by us and are writable for host callers or when we may write
// them; other fds must be O_RDONLY or O_RDWR and are writable iff O_RDWR
// (or for the host). The path is mapped from the sandbox's view to the
// host's and must still name the same inode; deleted files are refused.
func (s *Service) pathForFD(c *caller, fd int) (string, unix.Stat_t, bool, error) {
	var st unix.Stat_t
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil || unix.Fstat(fd, &st) != nil {
		return "", st, false, fmt.Errorf("%w: not an open fd", ErrInvalidArgument)
	}
	proc := "/proc/self/fd/" + strconv.Itoa(fd)
	link, err := os.Readlink(proc)
	if err != nil || !filepath.IsAbs(link) {
		return "", st, false, fmt.Errorf("%w: fd has no path", ErrInvalidArgument)
	}
	if rest, ok := strings.CutSuffix(link, " (deleted)"); ok {
		// Dentries on our own mount are dropped from the kernel's cache
		// right after lookups, which makes them look deleted.
		if st.Dev != s.fs.dev {
			return "", st, false, fmt.Errorf("%w: file was deleted", ErrInvalidArgument)
		}
		link = rest
	}
	writable := false
	if flags&unix.O_PATH != 0 {
		if flags&unix.O_NOFOLLOW != 0 {
			return "", st, false, fmt.Errorf("%w: O_PATH|O_NOFOLLOW fd", ErrInvalidArgument)
		}
		if unix.Access(proc, unix.R_OK) != nil {
			return "", st, false, fmt.Errorf("%w: file not readable", ErrInvalidArgument)
		}
		writable = c.host || unix.Access(proc, unix.W_OK) == nil
	} else {
		switch flags & unix.O_ACCMODE {
		case unix.O_RDONLY:
			writable = c.host
		case unix.O_RDWR:
			writable = true
		default:
			return "", st, false, fmt.Errorf("%w: fd must be O_RDONLY or O_RDWR", ErrInvalidArgument)
		}
	}
	path := s.hostPath(c, link)
	if same(path, &st) {
		return path, st, writable, nil
	}
	// A sandbox sees its own view of the document mount at the mount
	// point; on the host that is by-app/APPID.
	if !c.host && c.appID != "" {
		if rest, ok := strings.CutPrefix(path, s.mount+"/"); ok {
			alt := filepath.Join(s.mount, "by-app", c.appID, rest)
			if same(alt, &st) {
				return alt, st, writable, nil
			}
		}
	}
	return "", st, false, fmt.Errorf("%w: fd does not match its path", ErrInvalidArgument)
}

func same(path string, st *unix.Stat_t) bool {
	var st2 unix.Stat_t
	return unix.Stat(path, &st2) == nil && st2.Dev == st.Dev && st2.Ino == st.Ino
}

// hostPath maps a path seen inside a flatpak sandbox to the host.
func (s *Service) hostPath(c *caller, p string) string {
	if c.host {
		return p
	}
	if rest, ok := strings.CutPrefix(p, "/newroot"); ok && (rest == "" || rest[0] == '/') {
		p = rest
	}
	runtimeDir := filepath.Dir(s.mount)
	home, _ := os.UserHomeDir()
	for _, m := range []struct{ from, to string }{
		{"/app", c.appPath},
		{"/usr", c.runtimePath},
		{"/run/host/usr", "/usr"},
		{"/run/host/etc", "/etc"},
		{"/run/flatpak/app", filepath.Join(runtimeDir, "app")},
		{"/run/flatpak/doc", s.mount},
		{"/var/config", filepath.Join(home, ".var", "app", c.appID, "config")},
		{"/var/data", filepath.Join(home, ".var", "app", c.appID, "data")},
	} {
		if m.to == "" {
			continue
		}
		if p == m.from || strings.HasPrefix(p, m.from+"/") {
			return m.to + p[len(m.from):]
		}
	}
	return p
}

// validateFD resolves a caller's fd to a file (kind fdRegular), a
// directory (fdDir) or either, and records the parent directory's dev/ino
// (the directory's own for directories), checking that the name still
// leads to the same inode. Any failure is the same InvalidArgument, so
// nothing leaks about paths the caller cannot see.
func (s *Service) validateFD(c *caller, fd int, kind fdKind) (fdTarget, error) {
	var t fdTarget
	path, st, writable, err := s.pathForFD(c, fd)
	if err != nil {
		return t, err
	}
	t.path, t.st, t.writable = path, st, writable
	var dir, name string
	switch {
	case (kind == fdRegular || kind == fdAny) && st.Mode&unix.S_IFMT == unix.S_IFREG:
		dir, name = filepath.Dir(path), filepath.Base(path)
	case (kind == fdDir || kind == fdAny) && st.Mode&unix.S_IFMT == unix.S_IFDIR:
		dir = path
	default:
		return t, errInvalidFD
	}
	dfd, err := unix.Open(dir, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return t, errInvalidFD
	}
	defer unix.Close(dfd)
	if unix.Fstat(dfd, &t.dirSt) != nil {
		return t, errInvalidFD
	}
	if name != "" {
		var real unix.Stat_t
		if unix.Fstatat(dfd, name, &real, unix.AT_SYMLINK_NOFOLLOW) != nil || real.Dev != st.Dev || real.Ino != st.Ino {
			return t, errInvalidFD
		}
	} else if t.dirSt.Dev != st.Dev || t.dirSt.Ino != st.Ino {
		return t, errInvalidFD
	}
	return t, nil
}
