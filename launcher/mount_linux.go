package launcher

import (
	"bufio"
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
	// The host's mount points, read once: a recursive bind of S brings
	// along the mounts below S, which then need the same flags.
	hostMounts, err := mountPoints(oldRoot)
	if err != nil {
		return "reading mountinfo", err
	}
	for _, m := range spec.Mounts {
		if err := applyMount(m, hostMounts); err != nil {
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

func applyMount(m Mount, hostMounts []string) error {
	dst := newRoot + m.Dest
	switch m.Type {
	case Bind, ROBind, DevBind:
		src := oldRoot + m.Source
		fi, err := os.Stat(src)
		if err != nil {
			if m.Optional && errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if err := ensureMountPoint(dst, fi.IsDir()); err != nil {
			return err
		}
		if err := unix.Mount(src, dst, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return err
		}
		extra := uintptr(unix.MS_NOSUID)
		if m.Type != DevBind {
			extra |= unix.MS_NODEV
		}
		if m.Type == ROBind {
			extra |= unix.MS_RDONLY
		}
		return remountTree(dst, extra, below(hostMounts, src, dst))
	case Tmpfs:
		if err := ensureMountPoint(dst, true); err != nil {
			return err
		}
		return unix.Mount("tmpfs", dst, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, fmt.Sprintf("mode=%#o", modeOr(m.Mode, 0o755)))
	case Dir:
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return err
		}
		if m.Mode != 0 {
			return os.Chmod(dst, fs.FileMode(m.Mode))
		}
		return nil
	case Symlink:
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		err := os.Symlink(m.Source, dst)
		if errors.Is(err, fs.ErrExist) {
			if t, rerr := os.Readlink(dst); rerr == nil && t == m.Source {
				return nil
			}
		}
		return err
	case File:
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		mode := fs.FileMode(modeOr(m.Mode, 0o644))
		if err := os.WriteFile(dst, m.Data, mode); err != nil {
			return err
		}
		if err := os.Chmod(dst, mode); err != nil {
			return err
		}
		if !m.ReadOnly {
			return nil
		}
		if err := unix.Mount(dst, dst, "", unix.MS_BIND, ""); err != nil {
			return err
		}
		return remount(dst, unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV)
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
			if err := remount(p, unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV); err != nil {
				return fmt.Errorf("covering /proc/%s: %w", k, err)
			}
		}
		return nil
	case Dev:
		return setupDev(dst)
	case RemountRO:
		return remount(dst, unix.MS_RDONLY)
	}
	return fmt.Errorf("unknown mount type %q", m.Type)
}

func modeOr(m, def uint32) uint32 {
	if m == 0 {
		return def
	}
	return m
}

// ensureMountPoint creates dst as a directory or an empty file.
func ensureMountPoint(dst string, dir bool) error {
	if dir {
		return os.MkdirAll(dst, 0o755)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_RDONLY, 0o644)
	if err != nil {
		if fi, serr := os.Stat(dst); serr == nil && !fi.IsDir() {
			return nil
		}
		return err
	}
	return f.Close()
}

// lockedFlags returns the per-mount flags of path that a remount inside
// a user namespace must repeat.
func lockedFlags(path string) uintptr {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0
	}
	var f uintptr
	for _, m := range []struct{ st, ms int64 }{
		{unix.ST_RDONLY, unix.MS_RDONLY}, {unix.ST_NOSUID, unix.MS_NOSUID},
		{unix.ST_NODEV, unix.MS_NODEV}, {unix.ST_NOEXEC, unix.MS_NOEXEC},
		{unix.ST_NOATIME, unix.MS_NOATIME}, {unix.ST_NODIRATIME, unix.MS_NODIRATIME},
		{unix.ST_RELATIME, unix.MS_RELATIME},
	} {
		if st.Flags&m.st != 0 {
			f |= uintptr(m.ms)
		}
	}
	return f
}

func remount(path string, extra uintptr) error {
	return unix.Mount("", path, "", unix.MS_BIND|unix.MS_REMOUNT|lockedFlags(path)|extra, "")
}

// remountTree applies extra flags to the mount at path and to the mounts
// subs below it. Failures on submounts the user cannot change are ignored.
func remountTree(path string, extra uintptr, subs []string) error {
	if err := remount(path, extra); err != nil {
		return err
	}
	for _, s := range subs {
		if err := remount(s, extra); err != nil && !errors.Is(err, unix.EACCES) && !errors.Is(err, unix.EPERM) && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("remounting %s: %w", s, err)
		}
	}
	return nil
}

// mountPoints lists the mount points under prefix, in mountinfo order.
func mountPoints(prefix string) ([]string, error) {
	f, err := os.Open(oldRoot + "/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	prefix = strings.TrimSuffix(prefix, "/") + "/"
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		if mp := unescapeMountinfo(fields[4]); strings.HasPrefix(mp, prefix) {
			out = append(out, mp)
		}
	}
	return out, sc.Err()
}

// below maps the host mount points strictly under src to where the
// recursive bind of src on dst put them.
func below(mounts []string, src, dst string) []string {
	prefix := strings.TrimSuffix(src, "/") + "/"
	var out []string
	for _, mp := range mounts {
		if rest, ok := strings.CutPrefix(mp, prefix); ok {
			out = append(out, filepath.Join(dst, rest))
		}
	}
	return out
}

func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
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
		if err := remount(p, unix.MS_NOSUID); err != nil {
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
