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
// ambient capability sets, sets no_new_privs and loads the seccomp filter
// on every thread of this process, so that pid 1 can start commands
// directly, without the exec stage. (The bounding set, which no_new_privs
// makes moot, is emptied on the spawner thread only: see spawner.)
//
// no_new_privs is set on the calling thread and the filter loaded with
// SECCOMP_FILTER_FLAG_TSYNC, which gives every thread both; only capset
// then needs syscall.AllThreadsSyscall (each such call stops the world
// and signals every thread). Emptying permitted and inheritable empties
// the ambient set too. AllThreadsSyscall only works in cgo-free binaries:
// otherwise ENOTSUP is returned.
func confineAllThreads(bpf []byte) error {
	if haveCgo {
		return syscall.ENOTSUP
	}
	if len(bpf) == 0 {
		if _, _, e := syscall.AllThreadsSyscall(unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0); e != 0 {
			return fmt.Errorf("no_new_privs: %w", e)
		}
	} else if err := loadSeccompAllThreads(bpf); err != nil {
		return err
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

// loadSeccompAllThreads sets no_new_privs on the calling thread and loads
// bpf with TSYNC, which copies the filter and no_new_privs to every
// other thread.
func loadSeccompAllThreads(bpf []byte) error {
	const insnSize = 8
	if len(bpf)%insnSize != 0 {
		return fmt.Errorf("bad BPF program length %d", len(bpf))
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("no_new_privs: %w", err)
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

// spawner runs on its own locked thread, whose bounding set it empties
// first: commands are forked from that thread and inherit its
// credentials. It serves requests until the process exits.
func spawner(reqs chan spawnReq, ready chan error) {
	runtime.LockOSThread()
	for c := 0; c <= 63; c++ {
		err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0)
		if err == unix.EINVAL {
			break
		}
		if err != nil && err != unix.EPERM {
			ready <- fmt.Errorf("dropping the bounding set: %w", err)
			return
		}
	}
	ready <- nil
	for r := range reqs {
		pid, err := startDirect(r.ec, r.stdin, r.stdout, r.stderr, r.errW, r.extra)
		r.done <- spawnResult{pid, err}
	}
}
