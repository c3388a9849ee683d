package launcher

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Argument values that select a stage of the helper binary.
const (
	initArg  = "__porthole_init"
	execArg  = "__porthole_exec"
	enterArg = "__porthole_enter"
)

// InitError is a failure reported by the init or exec stage.
type InitError struct {
	Stage   string `json:"stage"`
	Op      string `json:"op"`
	Message string `json:"message"`
	Errno   int    `json:"errno,omitempty"`
}

func (e *InitError) Error() string {
	return fmt.Sprintf("sandbox %s: %s: %s", e.Stage, e.Op, e.Message)
}

// Unwrap returns the errno, if any.
func (e *InitError) Unwrap() error {
	if e.Errno != 0 {
		return syscall.Errno(e.Errno)
	}
	return nil
}

// Options are how the sandbox is started, as opposed to what it is.
type Options struct {
	// InitPath is the helper binary; empty means $PORTHOLE_INIT, else
	// "porthole-init" next to the running executable or in ../libexec,
	// else the running executable itself (which must call MaybeInit
	// before anything else).
	InitPath       string
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// ExtraFiles are passed to the command as fds 3, 4, …
	ExtraFiles []*os.File
	// OnFork, when set, is called with the host pid of the sandbox's
	// pid 1 as soon as it is forked, before it gets its configuration:
	// what it records about the instance exists before the command runs.
	OnFork func(pid int)
}

// initConfig is what the parent sends to the init stage.
type initConfig struct {
	Spec    Spec   `json:"spec"`
	Seccomp []byte `json:"seccomp,omitempty"`
	NExtra  int    `json:"nExtra,omitempty"`
	// Trace makes the init stage print phase timings on stderr
	// ($PORTHOLE_TRACE in the launching process).
	Trace bool `json:"trace,omitempty"`
}

// Process is a started sandbox.
type Process struct {
	// Pid is the host pid of the sandbox's pid 1.
	Pid int
	tr  tracer
	// copies finish when the pipes standing in for non-file stdio are
	// drained.
	copies  []chan error
	closers []*os.File
	// status is where pid 1 writes the command's exit status.
	status *os.File
	// mu guards reaped: once pid 1 is reaped its pid may be reused, so
	// Signal must not kill it any more.
	mu     sync.Mutex
	reaped bool
	waited bool
	code   int
	err    error
}

// DefaultInitPath returns the helper Start uses when Options.InitPath is
// empty.
func DefaultInitPath() (string, error) {
	if p := os.Getenv("PORTHOLE_INIT"); p != "" {
		return p, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("finding the init helper: %w", err)
	}
	// Next to the executable (build tree), or in ../libexec as
	// `make install` puts it.
	dir := filepath.Dir(exe)
	for _, p := range []string{filepath.Join(dir, "porthole-init"), filepath.Join(dir, "..", "libexec", "porthole-init")} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return exe, nil
}

// Start validates spec, compiles its seccomp filter and starts the
// sandbox. It returns once the command has been exec'd, or with the
// error of whichever stage failed.
//
// The init stage is forked first and the parent compiles the seccomp
// filter and encodes the configuration while the child starts; bind
// sources are opened by the init stage itself (symlinks resolved in the
// host's root with openat2), so the parent does no per-mount work.
func Start(ctx context.Context, spec *Spec, opts Options) (*Process, error) {
	tr := tracer{on: os.Getenv("PORTHOLE_TRACE") != "", who: "launcher"}
	tr.mark("start")
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	cfg := initConfig{Spec: *spec, NExtra: len(opts.ExtraFiles), Trace: tr.on}
	initPath := opts.InitPath
	if initPath == "" {
		var err error
		if initPath, err = DefaultInitPath(); err != nil {
			return nil, err
		}
	}
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("starting sandbox: %w", err)
	}
	defer cfgR.Close()
	defer cfgW.Close()
	errR, errW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("starting sandbox: %w", err)
	}
	defer errR.Close()
	defer errW.Close()
	// pid 1 writes the command's exit status here before it exits, so
	// that Wait returns without waiting for the namespaces to be torn
	// down (bwrap's monitor returns on its event fd likewise).
	statusR, statusW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("starting sandbox: %w", err)
	}
	defer statusW.Close()

	p := &Process{tr: tr}
	stdio, err := p.stdio(opts)
	if err != nil {
		return nil, fmt.Errorf("starting sandbox: %w", err)
	}
	files := append(stdio, cfgR.Fd(), errW.Fd())
	for _, f := range opts.ExtraFiles {
		files = append(files, f.Fd())
	}
	files = append(files, statusW.Fd())
	flags := uintptr(unix.CLONE_NEWNS | unix.CLONE_NEWPID)
	if !spec.ShareIPC {
		flags |= unix.CLONE_NEWIPC
	}
	if !spec.ShareNet {
		flags |= unix.CLONE_NEWNET
	}
	attr := &syscall.SysProcAttr{Cloneflags: flags}
	if os.Geteuid() != 0 {
		// An ordinary user gets a user namespace mapping its ids to
		// themselves; the init stages keep the capabilities they need as
		// ambient capabilities across their exec.
		attr.Cloneflags |= unix.CLONE_NEWUSER
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: spec.UID, HostID: os.Geteuid(), Size: 1}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: spec.GID, HostID: os.Getegid(), Size: 1}}
		attr.GidMappingsEnableSetgroups = false
		attr.AmbientCaps = []uintptr{unix.CAP_SYS_ADMIN, unix.CAP_SETPCAP, unix.CAP_DAC_OVERRIDE, unix.CAP_SYS_CHROOT}
	}
	if spec.DieWithParent {
		attr.Pdeathsig = syscall.SIGKILL
	}
	tr.mark("forking init")
	// syscall.ForkExec rather than os/exec: os.StartProcess probes pidfd
	// support on its first use with an extra clone, which costs a process
	// creation on the critical path.
	pid, err := syscall.ForkExec(initPath, []string{initPath, initArg}, &syscall.ProcAttr{Env: []string{}, Files: files, Sys: attr})
	p.closeChildEnds()
	if err != nil {
		p.abandon()
		statusR.Close()
		return nil, fmt.Errorf("starting sandbox: %w", err)
	}
	p.Pid = pid
	p.status = statusR
	cfgR.Close()
	errW.Close()
	statusW.Close()
	tr.mark("init forked")
	if opts.OnFork != nil {
		opts.OnFork(pid)
	}

	if !spec.Seccomp.Disabled {
		bpf, err := CompileSeccomp(spec.Seccomp)
		tr.mark("seccomp compiled")
		if err != nil {
			cfgW.Close()
			p.Wait()
			return nil, err
		}
		cfg.Seccomp = bpf
	}
	data, err := marshalConfig(&cfg)
	if err != nil {
		cfgW.Close()
		p.Wait()
		return nil, err
	}
	go func() {
		cfgW.Write(data)
		cfgW.Close()
	}()
	report, _ := io.ReadAll(errR)
	tr.mark("command exec'd")
	if len(report) > 0 {
		var ie InitError
		if err := json.Unmarshal(report, &ie); err != nil {
			ie = InitError{Stage: "init", Op: "report", Message: string(report)}
		}
		p.Wait()
		return nil, &ie
	}
	return p, nil
}

// stdio returns the descriptors for the child's fds 0-2: files as they
// are, /dev/null for nil, and pipes copied by goroutines for other
// readers and writers (as os/exec does).
func (p *Process) stdio(opts Options) ([]uintptr, error) {
	out := make([]uintptr, 3)
	for i, x := range []any{opts.Stdin, opts.Stdout, opts.Stderr} {
		f, isFile := x.(*os.File)
		if isFile && f != nil {
			out[i] = f.Fd()
			continue
		}
		if x == nil || isFile {
			mode := os.O_WRONLY
			if i == 0 {
				mode = os.O_RDONLY
			}
			f, err := os.OpenFile(os.DevNull, mode, 0)
			if err != nil {
				p.abandon()
				return nil, err
			}
			p.closers = append(p.closers, f)
			out[i] = f.Fd()
			continue
		}
		if i == 2 && sameWriter(opts.Stderr, opts.Stdout) {
			// One pipe for both, as os/exec does: two copies into one
			// writer would race.
			out[2] = out[1]
			continue
		}
		r, w, err := os.Pipe()
		if err != nil {
			p.abandon()
			return nil, err
		}
		done := make(chan error, 1)
		if i == 0 {
			p.closers = append(p.closers, r)
			out[i] = r.Fd()
			go func(src io.Reader) {
				_, err := io.Copy(w, src)
				w.Close()
				done <- err
			}(x.(io.Reader))
			// Like os/exec, Wait does not wait for stdin to be consumed.
			continue
		}
		p.closers = append(p.closers, w)
		out[i] = w.Fd()
		go func(dst io.Writer) {
			_, err := io.Copy(dst, r)
			r.Close()
			done <- err
		}(x.(io.Writer))
		p.copies = append(p.copies, done)
	}
	return out, nil
}

// sameWriter reports whether a and b are the same comparable value.
func sameWriter(a, b io.Writer) (same bool) {
	defer func() {
		if recover() != nil {
			same = false
		}
	}()
	return a == b
}

// closeChildEnds closes the parent's copies of the descriptors handed
// to the child (the /dev/null files and the child's ends of pipes).
func (p *Process) closeChildEnds() {
	for _, f := range p.closers {
		f.Close()
	}
	p.closers = nil
}

// abandon releases the stdio plumbing of a process that never started.
func (p *Process) abandon() {
	p.closeChildEnds()
	for _, c := range p.copies {
		<-c
	}
	p.copies = nil
}

// Signal sends sig to the sandbox's pid 1, which forwards it to the
// command.
func (p *Process) Signal(sig os.Signal) error {
	s, ok := sig.(syscall.Signal)
	if !ok {
		return fmt.Errorf("cannot send %v: %w", sig, syscall.EINVAL)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.reaped {
		return os.ErrProcessDone
	}
	return unix.Kill(p.Pid, s)
}

// Wait waits for the sandbox to end and returns the command's exit code
// (128+signal when it was killed).
func (p *Process) Wait() (int, error) {
	p.mu.Lock()
	if p.waited {
		defer p.mu.Unlock()
		return p.code, p.err
	}
	p.mu.Unlock()
	if p.status != nil {
		var b [4]byte
		_, err := io.ReadFull(p.status, b[:])
		p.status.Close()
		p.status = nil
		if err == nil {
			p.tr.mark("status read")
			// pid 1 is exiting; it is reaped in the background.
			go p.reap()
			for _, c := range p.copies {
				<-c
			}
			p.mu.Lock()
			defer p.mu.Unlock()
			p.code = int(int32(binary.LittleEndian.Uint32(b[:])))
			p.waited = true
			return p.code, nil
		}
	}
	// Wait for the exit without reaping, so that the pid stays ours
	// while Signal may still use it.
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, p.Pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			break
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.waited {
		return p.code, p.err
	}
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(p.Pid, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			p.code, p.err = -1, fmt.Errorf("waiting for the sandbox: %w", err)
		}
		break
	}
	p.reaped, p.waited = true, true
	p.tr.mark("sandbox exited")
	for _, c := range p.copies {
		<-c
	}
	if p.err == nil {
		p.code = ws.ExitStatus()
		if ws.Signaled() {
			p.code = 128 + int(ws.Signal())
		}
	}
	return p.code, p.err
}

// reap collects pid 1 after Wait got the status from it.
func (p *Process) reap() {
	var ws unix.WaitStatus
	for {
		if _, err := unix.Wait4(p.Pid, &ws, 0, nil); err != unix.EINTR {
			break
		}
	}
	p.mu.Lock()
	p.reaped = true
	p.mu.Unlock()
}

// Run starts the sandbox, forwards the termination signals delivered to
// the returned function's caller, and waits. It is Start + Wait.
func Run(ctx context.Context, spec *Spec, opts Options) (int, error) {
	p, err := Start(ctx, spec, opts)
	if err != nil {
		return -1, err
	}
	stop := context.AfterFunc(ctx, func() { p.Signal(syscall.SIGTERM) })
	defer stop()
	return p.Wait()
}
