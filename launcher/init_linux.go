package launcher

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Fixed descriptors of the stages.
const (
	fdConfig = 3
	fdError  = 4
	fdExtra  = 5
)

// MaybeInit runs the init or exec stage when the process was started as
// one, and never returns in that case. Call it first thing in main of any
// binary used as Options.InitPath (and in TestMain of tests).
func MaybeInit() {
	if len(os.Args) < 2 {
		return
	}
	switch os.Args[1] {
	case initArg:
		os.Exit(initMain())
	case execArg:
		execMain()
	}
}

// report sends an InitError on fd and returns the exit code to use.
func report(fd int, stage, op string, err error) int {
	ie := InitError{Stage: stage, Op: op, Message: err.Error()}
	var en syscall.Errno
	if errors.As(err, &en) {
		ie.Errno = int(en)
	}
	data, _ := json.Marshal(&ie)
	unix.Write(fd, data)
	return 1
}

// execConfig is what pid 1 sends to each exec stage.
type execConfig struct {
	Args    []string `json:"args"`
	Env     []string `json:"env"`
	Cwd     string   `json:"cwd,omitempty"`
	Seccomp []byte   `json:"seccomp,omitempty"`
	NExtra  int      `json:"nExtra,omitempty"`
}

func initMain() int {
	tStart := monoNow()
	// The main goroutine stays on the main thread, which confines itself
	// and forks every command (see confineThreadLate).
	runtime.LockOSThread()
	unix.CloseOnExec(fdError)
	data, err := readConfig(fdConfig)
	if err != nil {
		return report(fdError, "init", "reading spec", err)
	}
	cfg, err := unmarshalConfig(data)
	if err != nil {
		return report(fdError, "init", "reading spec", err)
	}
	spec := &cfg.Spec
	statusFd := fdExtra + cfg.NExtra
	unix.CloseOnExec(statusFd)
	tr := tracer{on: cfg.Trace, who: "init"}
	tr.markAt("main", tStart)
	trace := tr.mark
	trace("config read")
	// Installing handlers for every signal takes a few hundred
	// microseconds: it runs on another thread while the root is built.
	r := newReaper()
	notified := make(chan struct{})
	go func() {
		signal.Notify(r.sigs)
		close(notified)
	}()
	if !haveCgo {
		// Only possible while CAP_SETPCAP is held; the mounts need the
		// effective set, which the bounding set does not limit.
		if err := dropBoundingSet(); err != nil {
			return report(fdError, "init", "dropping privileges", err)
		}
	}
	var extra []*os.File
	for i := 0; i < cfg.NExtra; i++ {
		unix.CloseOnExec(fdExtra + i)
		extra = append(extra, os.NewFile(uintptr(fdExtra+i), "extra"))
	}
	cwd := spec.Cwd
	if cwd == "" {
		cwd, _ = os.Getwd()
	}

	var enter *enterServer
	if spec.InstanceDir != "" {
		var err error
		if enter, err = listenEnter(spec.InstanceDir); err != nil {
			return report(fdError, "init", "enter socket", err)
		}
	}
	buses, err := openBusDirs(spec.BusProxies)
	if err != nil {
		return report(fdError, "init", "bus proxy", err)
	}
	if op, err := setupRoot(spec); err != nil {
		return report(fdError, "init", op, err)
	}
	trace("root ready")
	if err := serveBusProxies(buses); err != nil {
		return report(fdError, "init", "bus proxy", err)
	}
	if cwd != "" {
		if fi, err := os.Stat(cwd); err != nil || !fi.IsDir() {
			cwd = ""
		}
	}
	if cwd == "" {
		cwd = "/"
		for _, e := range spec.Env {
			if h, ok := cutPrefix(e, "HOME="); ok {
				if fi, err := os.Stat(h); err == nil && fi.IsDir() {
					cwd = h
				}
			}
		}
	}

	// Without cgo, pid 1 confines itself and starts commands directly from
	// its main thread, which confined itself first (bounding set emptied
	// at the start, now no_new_privs and the filter given to every thread
	// with TSYNC, its own capabilities emptied); the other threads'
	// capabilities are emptied once the command runs (see
	// confineAllThreads). With cgo (tests), each command goes through the
	// exec stage.
	if !haveCgo {
		if err := confineThreadLate(cfg.Seccomp); err != nil {
			return report(fdError, "init", "dropping privileges", err)
		}
		r.direct = true
	}
	trace("main thread confined")
	// PWD names the directory the command starts in, as bwrap sets it.
	env := mergeEnv(spec.Env, []string{"PWD=" + cwd})
	ec := execConfig{Args: spec.Args, Env: env, Cwd: cwd, Seccomp: cfg.Seccomp, NExtra: cfg.NExtra}
	errW := os.NewFile(fdError, "error")
	pid, err := r.spawnHere(ec, os.Stdin, os.Stdout, os.Stderr, errW, extra)
	for _, e := range extra {
		e.Close()
	}
	if errors.Is(err, errReported) {
		return 1
	}
	if err != nil {
		return report(fdError, "init", "starting exec stage", err)
	}
	errW.Close()
	trace("command started")
	// The other threads' capabilities are emptied once the command has
	// run for a moment: the all-thread capset stops pid 1 for a while,
	// which would hold up the status of a command that ends at once.
	var confine func() error
	if !haveCgo {
		confine = func() error {
			err := confineAllThreads(cfg.Seccomp)
			trace("confined")
			return err
		}
	}
	if enter != nil {
		go enter.serve(r, ec)
	}
	// The status goes to the launcher as soon as the command ends: a
	// thread waits for that exit directly (waitid with WNOWAIT, leaving
	// the reaping to the reaper), faster than signal delivery through
	// the runtime to the reaper goroutine.
	var once sync.Once
	sendStatus := func(code int) {
		once.Do(func() {
			var b [4]byte
			binary.LittleEndian.PutUint32(b[:], uint32(code))
			unix.Write(statusFd, b[:])
		})
	}
	go func() {
		if code, ok := waitExit(pid); ok {
			sendStatus(code)
		}
	}()
	<-notified
	forward := isatty(0)
	code := r.run(pid, forward, confine)
	trace("command exited")
	sendStatus(code)
	return code
}

// waitExit waits for the child pid to end without reaping it and returns
// its exit code (128+signal when killed); ok is false when it could not
// be waited for (already reaped).
func waitExit(pid int) (code int, ok bool) {
	// siginfo_t for SIGCHLD on 64-bit Linux: si_pid, si_uid and
	// si_status follow the three ints and the padding.
	var info struct {
		Signo, Errno, Code, _ int32
		Pid                   int32
		UID                   uint32
		Status                int32
		_                     [100]byte
	}
	for {
		_, _, e := unix.Syscall6(unix.SYS_WAITID, unix.P_PID, uintptr(pid), uintptr(unsafe.Pointer(&info)), unix.WEXITED|unix.WNOWAIT, 0, 0)
		if e == unix.EINTR {
			continue
		}
		if e != 0 || int(info.Pid) != pid {
			return 0, false
		}
		break
	}
	// si_code: CLD_EXITED 1, CLD_KILLED 2, CLD_DUMPED 3.
	switch info.Code {
	case 1:
		return int(info.Status), true
	case 2, 3:
		return 128 + int(info.Status), true
	}
	return 0, false
}

// readConfig reads fd to EOF into one buffer big enough for the usual
// configuration (io.ReadAll would grow and copy it from 512 bytes up).
func readConfig(fd int) ([]byte, error) {
	defer unix.Close(fd)
	buf := make([]byte, 0, 64<<10)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return buf, nil
		}
		buf = buf[:len(buf)+n]
	}
}

func cutPrefix(s, p string) (string, bool) {
	if len(s) >= len(p) && s[:len(p)] == p {
		return s[len(p):], true
	}
	return "", false
}

func isatty(fd int) bool {
	_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	return err == nil
}

// reaper is pid 1's child bookkeeping: it reaps every child and hands
// the status of the ones it spawned to their waiters.
type reaper struct {
	// direct: pid 1 is confined and forks commands itself, from its main
	// thread; other goroutines ask run to, on spawns.
	direct  bool
	spawns  chan spawnReq
	mu      sync.Mutex
	waiters map[int]chan int
	sigs    chan os.Signal
}

func newReaper() *reaper {
	return &reaper{waiters: map[int]chan int{}, sigs: make(chan os.Signal, 32), spawns: make(chan spawnReq)}
}

// spawn starts an exec stage running ec with the given stdio. The
// exec stage reports errors on errW.
func (r *reaper) spawn(ec execConfig, stdin, stdout, stderr, errW *os.File, extra []*os.File) (int, error) {
	if r.direct {
		// The main thread forks it, in run (so that no child is reaped
		// before its waiter exists: reap runs there too).
		done := make(chan spawnResult, 1)
		r.spawns <- spawnReq{ec, stdin, stdout, stderr, errW, extra, done}
		res := <-done
		return res.pid, res.err
	}
	return r.spawnHere(ec, stdin, stdout, stderr, errW, extra)
}

// spawnHere is spawn on the main goroutine (before run, or in it).
func (r *reaper) spawnHere(ec execConfig, stdin, stdout, stderr, errW *os.File, extra []*os.File) (int, error) {
	if r.direct {
		pid, err := startDirect(ec, stdin, stdout, stderr, errW, extra)
		if err != nil {
			return 0, err
		}
		r.mu.Lock()
		r.waiters[pid] = make(chan int, 1)
		r.mu.Unlock()
		return pid, nil
	}
	cr, cw, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer cr.Close()
	cmd := exec.Command("/proc/self/exe", execArg)
	cmd.Env = []string{}
	cmd.Dir = "/"
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	cmd.ExtraFiles = append([]*os.File{cr, errW}, extra...)
	r.mu.Lock()
	err = cmd.Start()
	var pid int
	if err == nil {
		pid = cmd.Process.Pid
		r.waiters[pid] = make(chan int, 1)
	}
	r.mu.Unlock()
	if err != nil {
		cw.Close()
		return 0, err
	}
	cr.Close()
	ec.NExtra = len(extra)
	go func() {
		json.NewEncoder(cw).Encode(&ec)
		cw.Close()
	}()
	return pid, nil
}

// wait returns the exit code of a child started by spawn.
func (r *reaper) wait(pid int) int {
	r.mu.Lock()
	ch := r.waiters[pid]
	r.mu.Unlock()
	return <-ch
}

// reap collects every exited child.
func (r *reaper) reap() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
		if ch, ok := r.waiters[pid]; ok {
			code := ws.ExitStatus()
			if ws.Signaled() {
				code = 128 + int(ws.Signal())
			}
			ch <- code
			delete(r.waiters, pid)
		}
	}
}

// confineDelay is how long pid 1 lets the command run before it empties
// its own threads' capabilities (see confineAllThreads).
const confineDelay = 5 * time.Millisecond

// run reaps children and forwards signals to main until it exits, and
// returns its exit code. When stdin is a terminal, the signals a terminal
// sends to the whole foreground group are not forwarded (the command got
// them already).
func (r *reaper) run(main int, ttyStdin bool, confine func() error) int {
	r.mu.Lock()
	done := r.waiters[main]
	r.mu.Unlock()
	r.reap()
	var later <-chan time.Time
	if confine != nil {
		t := time.NewTimer(confineDelay)
		defer t.Stop()
		later = t.C
	}
	for {
		select {
		case <-later:
			later = nil
			if err := confine(); err != nil {
				fmt.Fprintf(os.Stderr, "porthole-init: cannot drop privileges: %v\n", err)
				unix.Kill(main, unix.SIGKILL)
				return 1
			}
		case req := <-r.spawns:
			pid, err := r.spawnHere(req.ec, req.stdin, req.stdout, req.stderr, req.errW, req.extra)
			req.done <- spawnResult{pid, err}
		case code := <-done:
			return code
		case sig := <-r.sigs:
			s := sig.(syscall.Signal)
			switch s {
			case unix.SIGCHLD:
				r.reap()
			case unix.SIGURG, unix.SIGPIPE, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU:
			case unix.SIGINT, unix.SIGQUIT, unix.SIGWINCH:
				if !ttyStdin {
					unix.Kill(main, s)
				}
			default:
				unix.Kill(main, s)
			}
		}
	}
}
