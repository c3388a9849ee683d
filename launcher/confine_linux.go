package launcher

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// errReported marks a failure already sent on the error pipe.
var errReported = errors.New("reported on the error pipe")

// confineAllThreads empties the permitted, effective, inheritable and
// ambient capability sets of every thread of this process (the main
// thread emptied its own and gave every thread no_new_privs and the
// seccomp filter already: see confineThreadLate). Emptying permitted and
// inheritable empties the ambient set too. It needs
// syscall.AllThreadsSyscall, which stops the world and signals every
// thread, hence it runs once the command is started, and which only
// cgo-free binaries have: otherwise ENOTSUP is returned.
func confineAllThreads(bpf []byte) error {
	if haveCgo {
		return syscall.ENOTSUP
	}
	if len(bpf) == 0 {
		if _, _, e := syscall.AllThreadsSyscall(unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0); e != 0 {
			return fmt.Errorf("no_new_privs: %w", e)
		}
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if _, _, e := syscall.AllThreadsSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); e != 0 {
		return fmt.Errorf("capset: %w", e)
	}
	runtime.KeepAlive(&hdr)
	runtime.KeepAlive(&data)
	return nil
}

// dropBoundingSet empties the calling thread's bounding set (which needs
// CAP_SETPCAP, so it comes first).
func dropBoundingSet() error {
	for c := 0; c <= 63; c++ {
		err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0)
		if err == unix.EINVAL {
			break
		}
		if err != nil && err != unix.EPERM {
			return fmt.Errorf("dropping the bounding set: %w", err)
		}
	}
	return nil
}

// confineThreadLate confines the calling (locked) thread, whose bounding
// set dropBoundingSet emptied: no_new_privs, bpf loaded with TSYNC
// (which gives every other thread the filter and no_new_privs too), then
// its own capability sets emptied, so that commands forked from it start
// with nothing.
func confineThreadLate(bpf []byte) error {
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("no_new_privs: %w", err)
	}
	if len(bpf) > 0 {
		const insnSize = 8
		if len(bpf)%insnSize != 0 {
			return fmt.Errorf("bad BPF program length %d", len(bpf))
		}
		prog := unix.SockFprog{Len: uint16(len(bpf) / insnSize), Filter: (*unix.SockFilter)(unsafe.Pointer(&bpf[0]))}
		r, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&prog)))
		runtime.KeepAlive(bpf)
		if e != 0 {
			return fmt.Errorf("loading seccomp: %w", e)
		}
		if r != 0 {
			// TSYNC names the thread that could not be synchronized.
			return fmt.Errorf("loading seccomp: thread %d could not take the filter", r)
		}
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	return nil
}

// startDirect starts ec's command from pid 1 after confineAllThreads and
// returns its pid. An exec failure is written to errW as the exec stage
// would, and errReported is returned. (syscall.ForkExec rather than
// os/exec, whose first start probes pidfd support with an extra clone.)
func startDirect(ec execConfig, stdin, stdout, stderr, errW *os.File, extra []*os.File) (int, error) {
	fail := func(err error) (int, error) {
		report(int(errW.Fd()), "exec", "exec "+ec.Args[0], err)
		return 0, errReported
	}
	path, err := lookPath(ec.Args[0], ec.Env)
	if err != nil {
		return fail(err)
	}
	files := []uintptr{stdin.Fd(), stdout.Fd(), stderr.Fd()}
	for _, f := range extra {
		files = append(files, f.Fd())
	}
	pid, err := syscall.ForkExec(path, ec.Args, &syscall.ProcAttr{Dir: ec.Cwd, Env: ec.Env, Files: files})
	if err != nil {
		return fail(err)
	}
	return pid, nil
}

type spawnReq struct {
	ec                    execConfig
	stdin, stdout, stderr *os.File
	errW                  *os.File
	extra                 []*os.File
	done                  chan spawnResult
}

type spawnResult struct {
	pid int
	err error
}
