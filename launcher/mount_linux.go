package launcher

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

const (
	baseDir = "/tmp"     // where the scratch tmpfs goes before the first pivot
	newRoot = "/newroot" // the sandbox root while it is being built
	oldRoot = "/oldroot" // the host's root while the sandbox is built
)

// setupRoot builds the sandbox root from spec.Mounts and pivots into it.
// It returns the failing operation with the error.
func setupRoot(spec *Spec) (string, error) {
	if err := unix.Mount("", "/", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return "making / a slave mount", err
	}
	if err := unix.Mount("tmpfs", baseDir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755"); err != nil {
		return "mounting the scratch tmpfs", err
	}
	for _, d := range []string{baseDir + newRoot, baseDir + oldRoot} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return "creating " + d, err
		}
	}
	if err := unix.PivotRoot(baseDir, baseDir+oldRoot); err != nil {
		return "pivot_root to the scratch tmpfs", err
	}
	if err := unix.Chdir("/"); err != nil {
		return "chdir /", err
	}
	if err := unix.Mount("tmpfs", newRoot, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755"); err != nil {
		return "mounting the root tmpfs", err
	}
	// Bind sources are looked up in the host's root, now at oldRoot:
	// openat2 with RESOLVE_IN_ROOT resolves absolute symlinks against it
	// as the host would.
	hostRoot, err := unix.Open(oldRoot, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "opening the host root", err
	}
	defer unix.Close(hostRoot)
	// The host's mount points, read once: a recursive bind of S brings
	// along the mounts below S, which then need the same flags.
	hostMounts, err := mountPoints(oldRoot)
	if err != nil {
		return "reading mountinfo", err
	}
	hd := &hostDirs{root: hostRoot, fd: -1}
	defer hd.close()
	for _, m := range spec.Mounts {
		if err := applyMount(m, hd, hostMounts); err != nil {
			return fmt.Sprintf("%s %s", m.Type, m.Dest), err
		}
	}
	if err := unix.Chdir(newRoot); err != nil {
		return "chdir to the new root", err
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return "pivot_root to the new root", err
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return "detaching the old root", err
	}
	if err := unix.Chdir("/"); err != nil {
		return "chdir /", err
	}
	return "", nil
}

func applyMount(m Mount, hd *hostDirs, hostMounts []string) error {
	dst := newRoot + m.Dest
	switch m.Type {
	case Bind, ROBind, DevBind:
		hs := hd.openSource(m.Source)
		if hs.err != nil {
			if m.Optional && errors.Is(hs.err, fs.ErrNotExist) {
				return nil
			}
			return hs.err
		}
		src, real := hs.fd, hs.real
		defer unix.Close(src)
		isDir := hs.mode&unix.S_IFMT == unix.S_IFDIR
		if err := ensureMountPoint(dst, isDir); err != nil {
			return err
		}
		attr := uint64(unix.MOUNT_ATTR_NOSUID)
		if m.Type != DevBind {
			attr |= unix.MOUNT_ATTR_NODEV
		}
		if m.Type == ROBind {
			attr |= unix.MOUNT_ATTR_RDONLY
		}
		var subs []string
		if isDir && len(hostMounts) > 0 {
			// Where the source really is, as mountinfo names it (only a
			// directory can have mounts below it).
			if real {
				subs = below(hostMounts, oldRoot+m.Source, dst)
			} else if p, err := os.Readlink(oldRoot + "/proc/self/fd/" + strconv.Itoa(src)); err == nil {
				subs = below(hostMounts, p, dst)
			}
		}
		return bindFd(src, dst, attr, subs)
	case Tmpfs:
		if err := ensureMountPoint(dst, true); err != nil {
			return err
		}
		return unix.Mount("tmpfs", dst, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, fmt.Sprintf("mode=%#o", modeOr(m.Mode, 0o755)))
	case Dir:
		if err := mkdirAll(dst); err != nil {
			return err
		}
		if m.Mode != 0 {
			return chmod(dst, m.Mode)
		}
		return nil
	case Symlink:
		err := unix.Symlink(m.Source, dst)
		if err == unix.ENOENT {
			if err := mkdirAll(filepath.Dir(dst)); err != nil {
				return err
			}
			err = unix.Symlink(m.Source, dst)
		}
		if err == unix.EEXIST {
			if t, rerr := os.Readlink(dst); rerr == nil && t == m.Source {
				return nil
			}
		}
		if err != nil {
			return &fs.PathError{Op: "symlink", Path: dst, Err: err}
		}
		return nil
	case File:
		if err := writeFile(dst, m.Data, modeOr(m.Mode, 0o644)); errors.Is(err, unix.EROFS) {
			return bindData(dst, m)
		} else if err != nil {
			return err
		}
		if !m.ReadOnly {
			return nil
		}
		if err := unix.Mount(dst, dst, "", unix.MS_BIND, ""); err != nil {
			return err
		}
		return addMountAttr(dst, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV)
	case Proc:
		if err := ensureMountPoint(dst, true); err != nil {
			return err
		}
		if err := unix.Mount("proc", dst, "proc", unix.MS_NOSUID|unix.MS_NOEXEC|unix.MS_NODEV, ""); err != nil {
			return err
		}
		// Kernel knobs the sandbox could write to are covered read-only,
		// as bwrap does (in practice only as root: an unprivileged user
		// cannot write them anyway).
		for _, k := range []string{"sys", "sysrq-trigger", "irq", "bus"} {
			p := filepath.Join(dst, k)
			if unix.Access(p, unix.W_OK) != nil {
				continue
			}
			if err := unix.Mount(p, p, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
				return fmt.Errorf("covering /proc/%s: %w", k, err)
			}
			if err := addMountAttr(p, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV); err != nil {
				return fmt.Errorf("covering /proc/%s: %w", k, err)
			}
		}
		return nil
	case Dev:
		return setupDev(dst)
	case RemountRO:
		return addMountAttr(dst, unix.MOUNT_ATTR_RDONLY)
	}
	return fmt.Errorf("unknown mount type %q", m.Type)
}

func modeOr(m, def uint32) uint32 {
	if m == 0 {
		return def
	}
	return m
}

// ensureMountPoint creates dst as a directory or an empty file. The
// common case, the parent existing, costs one system call.
func ensureMountPoint(dst string, dir bool) error {
	if dir {
		return mkdirAll(dst)
	}
	// mknod makes the empty file in one call (no descriptor); what is
	// there already goes through open as before.
	err := unix.Mknod(dst, unix.S_IFREG|0o644, 0)
	if err == unix.ENOENT {
		if err := mkdirAll(filepath.Dir(dst)); err != nil {
			return err
		}
		err = unix.Mknod(dst, unix.S_IFREG|0o644, 0)
	}
	if err == nil {
		return nil
	}
	fd, err := unix.Open(dst, unix.O_CREAT|unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOCTTY, 0o644)
	if err != nil {
		var st unix.Stat_t
		if unix.Stat(dst, &st) == nil && st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return nil
		}
		return &fs.PathError{Op: "create", Path: dst, Err: err}
	}
	return unix.Close(fd)
}

// mkdirAll is os.MkdirAll trying the directory itself first: in the
// sandbox root being built, parents usually exist.
func mkdirAll(p string) error {
	err := unix.Mkdir(p, 0o755)
	if err == unix.ENOENT && p != "/" {
		if err := mkdirAll(filepath.Dir(p)); err != nil {
			return err
		}
		err = unix.Mkdir(p, 0o755)
	}
	if err == unix.EEXIST {
		var st unix.Stat_t
		if serr := unix.Stat(p, &st); serr == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
			return nil
		}
	}
	if err != nil {
		return &fs.PathError{Op: "mkdir", Path: p, Err: err}
	}
	return nil
}

func chmod(p string, mode uint32) error {
	if err := unix.Chmod(p, mode); err != nil {
		return &fs.PathError{Op: "chmod", Path: p, Err: err}
	}
	return nil
}

// writeFile creates p (and its parents) with data and exactly mode.
func writeFile(p string, data []byte, mode uint32) error {
	const flags = unix.O_CREAT | unix.O_WRONLY | unix.O_TRUNC | unix.O_CLOEXEC | unix.O_NOCTTY
	fd, err := unix.Open(p, flags, mode)
	if err == unix.ENOENT {
		if err := mkdirAll(filepath.Dir(p)); err != nil {
			return err
		}
		fd, err = unix.Open(p, flags, mode)
	}
	if err != nil {
		return &fs.PathError{Op: "create", Path: p, Err: err}
	}
	defer unix.Close(fd)
	for len(data) > 0 {
		n, err := unix.Write(fd, data)
		if err != nil {
			return &fs.PathError{Op: "write", Path: p, Err: err}
		}
		data = data[n:]
	}
	// The umask may have taken bits away.
	if err := unix.Fchmod(fd, mode); err != nil {
		return &fs.PathError{Op: "chmod", Path: p, Err: err}
	}
	return nil
}

// addMountAttr adds the MOUNT_ATTR_* flags attr to the mount at path
// (its other flags, locked or not, stay).
func addMountAttr(path string, attr uint64) error {
	if err := unix.MountSetattr(unix.AT_FDCWD, path, 0, &unix.MountAttr{Attr_set: attr}); err != nil {
		return fmt.Errorf("mount_setattr %s: %w", path, err)
	}
	return nil
}

// hostSource is an opened bind source.
type hostSource struct {
	fd   int
	real bool // the path is the real one (no symlink on the way)
	mode uint32
	err  error
}

// hostDirs opens bind sources, keeping the directory of the last one
// open: sources often are siblings (the runtime's /etc entries), and a
// one-name lookup from the directory is cheaper than the whole path.
// (Opening the sources ahead of the mounts on another thread gained
// nothing measurable: the lookups then contend with the mounts.)
type hostDirs struct {
	root int    // the host's root
	dir  string // host path of fd, when fd >= 0
	fd   int    // O_PATH descriptor of dir, reached without symlinks
}

func (hd *hostDirs) close() {
	if hd.fd >= 0 {
		unix.Close(hd.fd)
		hd.fd = -1
	}
}

// openSource opens and stats the bind source path.
func (hd *hostDirs) openSource(path string) *hostSource {
	hs := &hostSource{fd: -1}
	if filepath.Clean(path) == path && path != "/" {
		dir, name := filepath.Split(path)
		dir = filepath.Clean(dir)
		if dir != hd.dir || hd.fd < 0 {
			hd.close()
			hd.dir = dir
			if fd, err := openat2(unix.AT_FDCWD, oldRoot+dir, unix.RESOLVE_NO_SYMLINKS); err == nil {
				hd.fd = fd
			}
		}
		if hd.fd >= 0 {
			if fd, err := openat2(hd.fd, name, unix.RESOLVE_NO_SYMLINKS); err == nil {
				hs.fd, hs.real = fd, true
			}
		}
	}
	if hs.fd < 0 {
		hs.fd, hs.real, hs.err = openHost(hd.root, path)
	}
	if hs.err == nil {
		var st unix.Stat_t
		if err := unix.Fstat(hs.fd, &st); err != nil {
			unix.Close(hs.fd)
			hs.fd, hs.err = -1, err
		}
		hs.mode = st.Mode
	}
	return hs
}

// openHost opens path of the host (whose root is hostRoot) as an O_PATH
// descriptor, resolving symlinks within the host's root, and tells
// whether path is the object's real path (no symlink on the way). Magic
// links (/proc/self/ns/…), which RESOLVE_IN_ROOT refuses, are followed
// through the host's /proc as the kernel resolves them.
func openHost(hostRoot int, path string) (fd int, real bool, err error) {
	// Without a symlink or ".." on the way, scoping changes nothing, and
	// a scoped lookup costs more (it checks the result against the root
	// under the mount lock, which the mounts being made contend for).
	err = unix.ELOOP
	if filepath.Clean(path) == path {
		fd, err = openat2(unix.AT_FDCWD, oldRoot+path, unix.RESOLVE_NO_SYMLINKS)
		if err == nil {
			return fd, true, nil
		}
	}
	if err == unix.ELOOP {
		fd, err = openat2(hostRoot, path, unix.RESOLVE_IN_ROOT)
	}
	if err == unix.ELOOP || err == unix.EXDEV {
		fd, err = unix.Open(oldRoot+path, unix.O_PATH|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return -1, false, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return fd, false, nil
}

// openat2 opens path below dirfd as O_PATH with the RESOLVE_* flags
// resolve. It retries on EAGAIN, which RESOLVE_IN_ROOT returns when a
// mount or rename ran meanwhile (the mounts being made, here) and ".."
// was resolved.
func openat2(dirfd int, path string, resolve uint64) (int, error) {
	how := &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: resolve}
	for i := 0; ; i++ {
		fd, err := unix.Openat2(dirfd, path, how)
		if err != unix.EAGAIN || i == 1000 {
			return fd, err
		}
	}
}

// bindFd binds the object src (with the mounts below it) on dst and
// adds the MOUNT_ATTR_* flags attr to the new mount and to the top mount
// at each path of subs (the submounts, as bwrap and a remount by path
// do: of mounts stacked on one path only the top one changes; failures
// there, on mounts the user may not change, are ignored).
func bindFd(src int, dst string, attr uint64, subs []string) error {
	tree, err := unix.OpenTree(src, "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH|unix.AT_RECURSIVE)
	if err != nil {
		return fmt.Errorf("open_tree: %w", err)
	}
	defer unix.Close(tree)
	if err := unix.MountSetattr(tree, "", unix.AT_EMPTY_PATH, &unix.MountAttr{Attr_set: attr}); err != nil {
		return fmt.Errorf("mount_setattr: %w", err)
	}
	if err := unix.MoveMount(tree, "", unix.AT_FDCWD, dst, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("move_mount: %w", err)
	}
	for _, s := range subs {
		err := unix.MountSetattr(unix.AT_FDCWD, s, 0, &unix.MountAttr{Attr_set: attr})
		if err != nil && err != unix.EACCES && err != unix.EPERM && err != unix.EINVAL && err != unix.ENOENT {
			return fmt.Errorf("mount_setattr %s: %w", s, err)
		}
	}
	return nil
}

// setupDev builds bwrap's minimal /dev at dst.
func setupDev(dst string) error {
	if err := ensureMountPoint(dst, true); err != nil {
		return err
	}
	if err := unix.Mount("tmpfs", dst, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755"); err != nil {
		return err
	}
	for _, n := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		p := filepath.Join(dst, n)
		if err := ensureMountPoint(p, false); err != nil {
			return err
		}
		if err := unix.Mount(oldRoot+"/dev/"+n, p, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("binding /dev/%s: %w", n, err)
		}
		if err := addMountAttr(p, unix.MOUNT_ATTR_NOSUID); err != nil {
			return fmt.Errorf("remounting /dev/%s: %w", n, err)
		}
	}
	for _, l := range [][2]string{
		{"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"},
		{"/proc/self/fd", "fd"}, {"/proc/kcore", "core"}, {"pts/ptmx", "ptmx"},
	} {
		if err := os.Symlink(l[0], filepath.Join(dst, l[1])); err != nil {
			return err
		}
	}
	for _, d := range []string{"shm", "pts"} {
		if err := os.Mkdir(filepath.Join(dst, d), 0o755); err != nil {
			return err
		}
	}
	pts := filepath.Join(dst, "pts")
	if err := unix.Mount("devpts", pts, "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=620"); err != nil {
		if err2 := unix.Mount("devpts", pts, "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, "newinstance,ptmxmode=0666"); err2 != nil {
			return fmt.Errorf("mounting devpts: %w", err)
		}
	}
	if isatty(1) {
		if tty, err := os.Readlink(oldRoot + "/proc/self/fd/1"); err == nil && strings.HasPrefix(tty, "/dev/") {
			c := filepath.Join(dst, "console")
			if ensureMountPoint(c, false) == nil {
				unix.Mount(oldRoot+tty, c, "", unix.MS_BIND, "")
			}
		}
	}
	return nil
}

// dataFiles counts the files bindData wrote.
var dataFiles int

// bindData is File over a destination on a read-only bind (a file of
// the runtime's /etc): as bwrap's --ro-bind-data, the data goes to a
// file of the scratch tmpfs, bound over the destination.
func bindData(dst string, m Mount) error {
	dataFiles++
	src := fmt.Sprintf("/data-%d", dataFiles)
	if err := writeFile(src, m.Data, modeOr(m.Mode, 0o644)); err != nil {
		return err
	}
	if err := unix.Mount(src, dst, "", unix.MS_BIND, ""); err != nil {
		return err
	}
	attr := uint64(unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV)
	if m.ReadOnly {
		attr |= unix.MOUNT_ATTR_RDONLY
	}
	return addMountAttr(dst, attr)
}
