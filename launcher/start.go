package launcher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

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
	cmd *exec.Cmd
	// Pid is the host pid of the sandbox's pid 1.
	Pid int
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
func Start(ctx context.Context, spec *Spec, opts Options) (*Process, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	cfg := initConfig{Spec: *spec, NExtra: len(opts.ExtraFiles), Trace: os.Getenv("PORTHOLE_TRACE") != ""}
	// Symlinks in bind sources are resolved here, on the host: in the
	// init stage an absolute link target would resolve against the
	// scratch root instead of the host's.
	cfg.Spec.Mounts = append([]Mount(nil), spec.Mounts...)
	for i, m := range cfg.Spec.Mounts {
		switch m.Type {
		case Bind, ROBind, DevBind:
			if real, err := filepath.EvalSymlinks(m.Source); err == nil {
				cfg.Spec.Mounts[i].Source = real
			}
		}
	}
	t0 := time.Now()
	tracef := func(what string) {
		if cfg.Trace {
			fmt.Fprintf(os.Stderr, "trace: launcher %s %v\n", what, time.Since(t0))
		}
	}
	if !spec.Seccomp.Disabled {
		bpf, err := CompileSeccomp(spec.Seccomp)
		tracef("seccomp compiled")
		if err != nil {
			return nil, err
		}
		cfg.Seccomp = bpf
	}
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

	cmd := exec.Command(initPath, initArg)
	cmd.Env = []string{}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = opts.Stdin, opts.Stdout, opts.Stderr
	cmd.ExtraFiles = append([]*os.File{cfgR, errW}, opts.ExtraFiles...)
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
	cmd.SysProcAttr = attr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting sandbox: %w", err)
	}
	cfgR.Close()
	errW.Close()
	tracef("init started")
	p := &Process{cmd: cmd, Pid: cmd.Process.Pid}

	go func() {
		json.NewEncoder(cfgW).Encode(&cfg)
		cfgW.Close()
	}()
	data, _ := io.ReadAll(errR)
	tracef("command exec'd")
	if len(data) > 0 {
		var ie InitError
		if err := json.Unmarshal(data, &ie); err != nil {
			ie = InitError{Stage: "init", Op: "report", Message: string(data)}
		}
		cmd.Wait()
		return nil, &ie
	}
	return p, nil
}

// Signal sends sig to the sandbox's pid 1, which forwards it to the
// command.
func (p *Process) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Wait waits for the sandbox to end and returns the command's exit code
// (128+signal when it was killed).
func (p *Process) Wait() (int, error) {
	err := p.cmd.Wait()
	if err == nil {
		return 0, nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return ee.ExitCode(), nil
	}
	return -1, err
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
