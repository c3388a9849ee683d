package launcher

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// execMain is the exec stage: it runs inside the finished root, drops
// every privilege on one locked thread and execs the command there, so
// the new program inherits exactly that thread's credentials and filter.
func execMain() {
	runtime.LockOSThread()
	errFd, err := unix.FcntlInt(fdError, unix.F_DUPFD_CLOEXEC, 100)
	if err != nil {
		errFd = fdError
	} else {
		unix.Close(fdError)
	}
	fail := func(op string, err error) {
		report(errFd, "exec", op, err)
		os.Exit(1)
	}
	f := os.NewFile(fdConfig, "config")
	var ec execConfig
	err = json.NewDecoder(f).Decode(&ec)
	f.Close()
	if err != nil {
		fail("reading config", err)
	}
	for i := 0; i < ec.NExtra; i++ {
		if err := unix.Dup3(fdExtra+i, 3+i, 0); err != nil {
			fail("passing fds", err)
		}
	}
	for i := 0; i < ec.NExtra; i++ {
		if fd := fdExtra + i; fd >= 3+ec.NExtra {
			unix.Close(fd)
		}
	}
	if err := unix.Chdir(ec.Cwd); err != nil {
		fail("chdir "+ec.Cwd, err)
	}
	path, err := lookPath(ec.Args[0], ec.Env)
	if err != nil {
		fail("exec "+ec.Args[0], err)
	}
	if err := dropCapabilities(); err != nil {
		fail("dropping capabilities", err)
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		fail("no_new_privs", err)
	}
	if len(ec.Seccomp) > 0 {
		if err := loadSeccomp(ec.Seccomp); err != nil {
			fail("loading seccomp", err)
		}
	}
	err = syscall.Exec(path, ec.Args, ec.Env)
	fail("exec "+ec.Args[0], err)
}

// lookPath resolves name in the PATH of env, like execvp.
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	pathEnv := "/usr/local/bin:/usr/bin:/bin"
	for _, e := range env {
		if v, ok := cutPrefix(e, "PATH="); ok {
			pathEnv = v
		}
	}
	var firstErr error
	for _, dir := range filepath.SplitList(pathEnv) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		fi, err := os.Stat(p)
		if err != nil {
			continue
		}
		if fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
		if firstErr == nil {
			firstErr = syscall.EACCES
		}
	}
	if firstErr != nil {
		return "", firstErr
	}
	return "", fmt.Errorf("%w (PATH=%s)", syscall.ENOENT, pathEnv)
}

// dropCapabilities empties the bounding, ambient, inheritable,
// permitted and effective sets of the calling thread.
func dropCapabilities() error {
	for c := 0; c <= 63; c++ {
		err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0)
		if err == unix.EINVAL {
			break
		}
		if err != nil && err != unix.EPERM {
			return err
		}
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil && err != unix.EINVAL {
		return err
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	return unix.Capset(&hdr, &data[0])
}

// loadSeccomp installs a BPF program on the calling thread.
func loadSeccomp(bpf []byte) error {
	const insnSize = 8
	if len(bpf) == 0 || len(bpf)%insnSize != 0 {
		return fmt.Errorf("bad BPF program length %d", len(bpf))
	}
	prog := unix.SockFprog{
		Len:    uint16(len(bpf) / insnSize),
		Filter: (*unix.SockFilter)(unsafe.Pointer(&bpf[0])),
	}
	_, _, e := unix.RawSyscall(unix.SYS_PRCTL, unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&prog)))
	runtime.KeepAlive(bpf)
	if e != 0 {
		return e
	}
	return nil
}
