package launcher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// EnterSocket is the name of pid 1's socket in the instance directory.
const EnterSocket = "enter.sock"

// EnterRequest asks a sandbox's pid 1 to run a command inside.
type EnterRequest struct {
	Args []string `json:"args"`
	// Env entries override the sandbox command's environment.
	Env []string `json:"env,omitempty"`
	Cwd string   `json:"cwd,omitempty"`
}

type enterReply struct {
	Started bool       `json:"started,omitempty"`
	Code    int        `json:"code"`
	Error   *InitError `json:"error,omitempty"`
}

type enterServer struct {
	// fd is the listening socket, made with plain system calls before
	// pivot_root (the instance directory is a host path) and handed to
	// the net package only once the command runs.
	fd  int
	uid int
}

func listenEnter(dir string) (*enterServer, error) {
	p := filepath.Join(dir, EnterSocket)
	unix.Unlink(p)
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: p}); err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "bind", Path: p, Err: err}
	}
	if err := unix.Listen(fd, 16); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return &enterServer{fd: fd, uid: os.Getuid()}, nil
}

func (s *enterServer) serve(r *reaper, base execConfig) {
	f := os.NewFile(uintptr(s.fd), EnterSocket)
	l, err := net.FileListener(f)
	f.Close()
	if err != nil {
		return
	}
	ln := l.(*net.UnixListener)
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			return
		}
		go s.handle(c, r, base)
	}
}

func (s *enterServer) handle(c *net.UnixConn, r *reaper, base execConfig) {
	defer c.Close()
	raw, err := c.SyscallConn()
	if err != nil {
		return
	}
	var cred *unix.Ucred
	raw.Control(func(fd uintptr) { cred, err = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED) })
	if err != nil || int(cred.Uid) != s.uid {
		return
	}
	buf := make([]byte, 64*1024)
	oob := make([]byte, unix.CmsgSpace(3*4))
	n, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
	if err != nil {
		return
	}
	var fds []int
	if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
		for _, m := range msgs {
			if f, err := unix.ParseUnixRights(&m); err == nil {
				fds = append(fds, f...)
			}
		}
	}
	var files []*os.File
	for _, fd := range fds {
		files = append(files, os.NewFile(uintptr(fd), "stdio"))
	}
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	enc := json.NewEncoder(c)
	var req EnterRequest
	if err := json.Unmarshal(buf[:n], &req); err != nil || len(req.Args) == 0 || len(files) != 3 {
		enc.Encode(enterReply{Code: 1, Error: &InitError{Stage: "enter", Op: "request", Message: "bad request"}})
		return
	}
	ec := base
	ec.Args = req.Args
	ec.Env = mergeEnv(base.Env, req.Env)
	ec.NExtra = 0
	if req.Cwd != "" {
		ec.Cwd = req.Cwd
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		return
	}
	pid, err := r.spawn(ec, files[0], files[1], files[2], errW, nil)
	errW.Close()
	if errors.Is(err, errReported) {
		var ie InitError
		data := make([]byte, 4096)
		k, _ := errR.Read(data)
		errR.Close()
		json.Unmarshal(data[:k], &ie)
		enc.Encode(enterReply{Code: 1, Error: &ie})
		return
	}
	if err != nil {
		errR.Close()
		enc.Encode(enterReply{Code: 1, Error: &InitError{Stage: "enter", Op: "spawn", Message: err.Error()}})
		return
	}
	var ie InitError
	data := make([]byte, 4096)
	k, _ := errR.Read(data)
	errR.Close()
	if k > 0 && json.Unmarshal(data[:k], &ie) == nil {
		enc.Encode(enterReply{Code: r.wait(pid), Error: &ie})
		return
	}
	enc.Encode(enterReply{Started: true})
	enc.Encode(enterReply{Code: r.wait(pid)})
}

func mergeEnv(base, over []string) []string {
	out := append([]string(nil), base...)
	for _, e := range over {
		k := e
		for i := 0; i < len(e); i++ {
			if e[i] == '=' {
				k = e[:i+1]
				break
			}
		}
		replaced := false
		for i, b := range out {
			if len(b) >= len(k) && b[:len(k)] == k {
				out[i] = e
				replaced = true
			}
		}
		if !replaced {
			out = append(out, e)
		}
	}
	return out
}

// Enter runs req inside the sandbox whose instance directory is dir,
// with the given stdio, and returns the command's exit code.
func Enter(ctx context.Context, dir string, req EnterRequest, stdin, stdout, stderr *os.File) (int, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", filepath.Join(dir, EnterSocket))
	if err != nil {
		return -1, fmt.Errorf("connecting to the sandbox: %w", err)
	}
	c := conn.(*net.UnixConn)
	defer c.Close()
	data, err := json.Marshal(&req)
	if err != nil {
		return -1, err
	}
	rights := unix.UnixRights(int(stdin.Fd()), int(stdout.Fd()), int(stderr.Fd()))
	if _, _, err := c.WriteMsgUnix(data, rights, nil); err != nil {
		return -1, fmt.Errorf("sending the request: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()
	dec := json.NewDecoder(c)
	for {
		var rep enterReply
		if err := dec.Decode(&rep); err != nil {
			return -1, fmt.Errorf("reading the reply: %w", err)
		}
		if rep.Error != nil {
			return rep.Code, rep.Error
		}
		if !rep.Started {
			return rep.Code, nil
		}
	}
}
