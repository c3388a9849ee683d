package launcher

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
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
// makes moot, is emptied on the spawner thread only: see spawner.) It
// needs syscall.AllThreadsSyscall, which only cgo-free binaries have;
// otherwise it returns ENOTSUP and nothing is changed.
func confineAllThreads(bpf []byte) error {
	if _, _, e := syscall.AllThreadsSyscall(unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0); e != 0 {
		if e == syscall.ENOTSUP {
			return e
		}
		return fmt.Errorf("no_new_privs: %w", e)
	}
	if _, _, e := syscall.AllThreadsSyscall(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0); e != 0 && e != unix.EINVAL {
		return fmt.Errorf("clearing ambient capabilities: %w", e)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if _, _, e := syscall.AllThreadsSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); e != 0 {
		return fmt.Errorf("capset: %w", e)
	}
	runtime.KeepAlive(&hdr)
	runtime.KeepAlive(&data)
	if len(bpf) == 0 {
		return nil
	}
	const insnSize = 8
	if len(bpf)%insnSize != 0 {
		return fmt.Errorf("bad BPF program length %d", len(bpf))
	}
	prog := unix.SockFprog{Len: uint16(len(bpf) / insnSize), Filter: (*unix.SockFilter)(unsafe.Pointer(&bpf[0]))}
	if _, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&prog))); e != 0 {
		return fmt.Errorf("loading seccomp: %w", e)
	}
	runtime.KeepAlive(bpf)
	return nil
}

// startDirect starts ec's command from pid 1 after confineAllThreads. An
// exec failure is written to errW as the exec stage would, and
// errReported is returned.
func startDirect(ec execConfig, stdin, stdout, stderr, errW *os.File, extra []*os.File) (*exec.Cmd, error) {
	fail := func(err error) (*exec.Cmd, error) {
		report(int(errW.Fd()), "exec", "exec "+ec.Args[0], err)
		return nil, errReported
	}
	path, err := lookPath(ec.Args[0], ec.Env)
	if err != nil {
		return fail(err)
	}
	cmd := &exec.Cmd{Path: path, Args: ec.Args, Env: ec.Env, Dir: ec.Cwd,
		Stdin: stdin, Stdout: stdout, Stderr: stderr, ExtraFiles: extra}
	if err := cmd.Start(); err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fail(err)
	}
	return cmd, nil
}

type spawnReq struct {
	ec                    execConfig
	stdin, stdout, stderr *os.File
	errW                  *os.File
	extra                 []*os.File
	done                  chan spawnResult
}

type spawnResult struct {
	cmd *exec.Cmd
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
		cmd, err := startDirect(r.ec, r.stdin, r.stdout, r.stderr, r.errW, r.extra)
		r.done <- spawnResult{cmd, err}
	}
}
