package tests

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"golang.org/x/sys/unix"

	"github.com/porthole-dev/porthole/internal/testbus"
	"github.com/porthole-dev/porthole/internal/testenv"
)

// End-to-end tests of porthole-document-portal: the real binary on a
// private dbus-daemon, the real porthole-permission-store, a real FUSE
// mount, run as root and as the unprivileged test user. File system
// operations and sandboxed D-Bus calls run in a helper process (this test
// binary, see TestDocumentPortalHelper) with the user's credentials, since
// a FUSE mount without allow_other serves only the user who mounted it.

const (
	docpName  = "org.freedesktop.portal.Documents"
	docpPath  = dbus.ObjectPath("/org/freedesktop/portal/documents")
	docpIface = "org.freedesktop.portal.Documents"
	docpFT    = "org.freedesktop.portal.FileTransfer"

	docpNotAllowed = "org.freedesktop.portal.Error.NotAllowed"
	docpInvalid    = "org.freedesktop.portal.Error.InvalidArgument"
	docpNotFound   = "org.freedesktop.portal.Error.NotFound"
)

// docpBuild returns $PORTHOLE_BIN/name (make test), else builds the
// command once per test binary like the Makefile does (dynamically
// linked), into a directory every user can read.
func docpBuild(t testing.TB, name string) string {
	t.Helper()
	if dir := os.Getenv("PORTHOLE_BIN"); dir != "" {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	docpBuildMu.Lock()
	defer docpBuildMu.Unlock()
	if p, ok := docpBuilt[name]; ok {
		return p
	}
	docpCleanOld()
	dir, err := os.MkdirTemp("", "porthole-docp-bin-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	bin := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-ldflags=-linkmode=external", "-o", bin, "github.com/porthole-dev/porthole/cmd/"+name)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", name, err, out)
	}
	docpBuilt[name] = bin
	return bin
}

var (
	docpBuildMu sync.Mutex
	docpBuilt   = map[string]string{}
	docpSelf    = sync.OnceValues(func() (string, error) {
		// A copy of this test binary that other users can run.
		exe, err := os.Executable()
		if err != nil {
			return "", err
		}
		dir, err := os.MkdirTemp("", "porthole-docp-self-")
		if err != nil {
			return "", err
		}
		os.Chmod(dir, 0o755)
		data, err := os.ReadFile(exe)
		if err != nil {
			return "", err
		}
		p := filepath.Join(dir, "tests.test")
		return p, os.WriteFile(p, data, 0o755)
	})
)

// docpCleanOld removes builds and test binary copies of earlier runs (the
// package has no TestMain) once they are a few hours old.
func docpCleanOld() {
	for _, pat := range []string{"porthole-docp-bin-*", "porthole-docp-self-*"} {
		old, _ := filepath.Glob(filepath.Join(os.TempDir(), pat))
		for _, d := range old {
			if fi, err := os.Stat(d); err == nil && time.Since(fi.ModTime()) > 3*time.Hour {
				os.RemoveAll(d)
			}
		}
	}
}

// docpEnv is one user's session: bus, runtime dir, data dir, a permission
// store and a document portal.
type docpEnv struct {
	u        testenv.User
	bus      *testbus.Bus
	conn     *dbus.Conn
	runtime  string // XDG_RUNTIME_DIR
	data     string // XDG_DATA_HOME
	files    string // a directory of the user's files
	mount    string
	store    *docpProc
	portal   *docpProc
	portalBn string
}

type docpProc struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
	log  *docpLog
}

type docpLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *docpLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *docpLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// docpSetup starts a bus, a permission store and a document portal for u.
func docpSetup(t *testing.T, u testenv.User) *docpEnv {
	t.Helper()
	testenv.RequireFUSE(t)
	if !u.IsRoot() {
		// Unprivileged FUSE mounts need /dev/fuse open to the user (CI
		// makes it 0666).
		f, err := os.Open("/dev/fuse")
		if err == nil {
			f.Close()
		}
		var st unix.Stat_t
		testenv.Require(t, unix.Stat("/dev/fuse", &st) == nil && st.Mode&0o006 == 0o006, "needs /dev/fuse readable and writable by all (chmod 0666 /dev/fuse)")
	}
	e := &docpEnv{u: u, bus: testbus.New(t)}
	e.conn = e.bus.Conn(t)
	e.runtime = testenv.RuntimeDir(t, u)
	base := testenv.SharedTempDir(t, u)
	e.data = filepath.Join(base, "data")
	e.files = filepath.Join(base, "files")
	for _, d := range []string{e.data, e.files} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		os.Chown(d, u.UID, u.GID)
	}
	e.mount = filepath.Join(e.runtime, "doc")
	e.portalBn = docpBuild(t, "porthole-document-portal")
	e.store = e.start(t, docpBuild(t, "porthole-permission-store"), "org.freedesktop.impl.portal.PermissionStore")
	e.startPortal(t)
	return e
}

func (e *docpEnv) env() []string {
	return testenv.WithEnv(os.Environ(), e.bus.Env(), "XDG_DATA_HOME="+e.data, "XDG_RUNTIME_DIR="+e.runtime,
		"HOME="+e.u.Home, "XDG_DESKTOP_PORTAL_TEST_APP_ID", "GIO_USE_VFS=local")
}

// start runs bin as the user and waits until it owns name.
func (e *docpEnv) start(t *testing.T, bin, name string) *docpProc {
	t.Helper()
	cmd := exec.Command(bin)
	e.u.Apply(t, cmd)
	cmd.Env = e.env()
	p := &docpProc{cmd: cmd, done: make(chan struct{}), log: &docpLog{}}
	cmd.Stderr = p.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			cmd.Process.Signal(syscall.SIGHUP)
			select {
			case <-p.done:
			case <-time.After(5 * time.Second):
				cmd.Process.Kill()
				<-p.done
			}
		}
		if t.Failed() && p.log.String() != "" {
			t.Logf("%s stderr:\n%s", filepath.Base(bin), p.log)
		}
	})
	for {
		var owner string
		if e.conn.BusObject().Call("org.freedesktop.DBus.GetNameOwner", 0, name).Store(&owner) == nil {
			var pid uint32
			if e.conn.BusObject().Call("org.freedesktop.DBus.GetConnectionUnixProcessID", 0, owner).Store(&pid) == nil && int(pid) == cmd.Process.Pid {
				return p
			}
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited before owning %s: %v\n%s", bin, name, p.err, p.log)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (e *docpEnv) startPortal(t *testing.T) {
	t.Helper()
	e.portal = e.start(t, e.portalBn, docpName)
	var mp []byte
	if err := e.obj().Call(docpIface+".GetMountPoint", 0).Store(&mp); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimRight(string(mp), "\x00"); got != e.mount {
		t.Fatalf("GetMountPoint() = %q, want %q", got, e.mount)
	}
}

// stopPortal sends SIGHUP and returns the exit status.
func (e *docpEnv) stopPortal(t *testing.T) int {
	t.Helper()
	e.portal.cmd.Process.Signal(syscall.SIGHUP)
	select {
	case <-e.portal.done:
	case <-time.After(10 * time.Second):
		t.Fatal("document portal did not exit on SIGHUP")
	}
	return e.portal.cmd.ProcessState.ExitCode()
}

func (e *docpEnv) obj() dbus.BusObject { return e.conn.Object(docpName, docpPath) }

// file writes a file owned by the user and returns its path.
func (e *docpEnv) file(t testing.TB, name, content string) string {
	t.Helper()
	p := filepath.Join(e.files, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chown(p, e.u.UID, e.u.GID)
	return p
}

// docpErrName is the D-Bus error name of err ("" for nil).
func docpErrName(err error) string {
	var de dbus.Error
	if errors.As(err, &de) {
		return de.Name
	}
	var dp *dbus.Error
	if errors.As(err, &dp) {
		return dp.Name
	}
	if err != nil {
		return err.Error()
	}
	return ""
}

// docpOp is one step of the helper process.
type docpOp struct {
	Op    string   `json:"op"`
	Path  string   `json:"path,omitempty"`
	Path2 string   `json:"path2,omitempty"`
	Data  string   `json:"data,omitempty"`
	Mode  string   `json:"mode,omitempty"`
	App   string   `json:"app,omitempty"`
	ID    string   `json:"id,omitempty"`
	Perms []string `json:"perms,omitempty"`
	Flags uint32   `json:"flags,omitempty"`
}

// docpResult is the outcome of a docpOp: errno for file operations, the
// D-Bus error name for calls.
type docpResult struct {
	Errno int    `json:"errno"`
	Err   string `json:"err"`
	Out   string `json:"out"`
}

// run executes ops in the helper process as the user (inside a sandbox
// when sandbox is not nil) and returns one result per op.
func (e *docpEnv) run(t testing.TB, sandbox []string, ops ...docpOp) []docpResult {
	t.Helper()
	self, err := docpSelf()
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(ops)
	args := append(append([]string{}, sandbox...), self, "-test.run=^TestDocumentPortalHelper$")
	cmd := exec.Command(args[0], args[1:]...)
	testenv.AsUser(cmd, e.u.UID, e.u.GID)
	cmd.Env = append(e.env(), "DOCP_HELPER="+string(js), "XDG_RUNTIME_DIR="+e.runtime)
	out, err := cmd.Output()
	var res []docpResult
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, "DOCP "); ok {
			var r docpResult
			json.Unmarshal([]byte(rest), &r)
			res = append(res, r)
		}
	}
	if len(res) != len(ops) {
		var stderr string
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("helper ran %d of %d ops: %v\n%s\n%s", len(res), len(ops), err, out, stderr)
	}
	return res
}

// TestDocumentPortalHelper is not a test: it is the helper process of the
// document portal tests, run with DOCP_HELPER set.
func TestDocumentPortalHelper(t *testing.T) {
	js := os.Getenv("DOCP_HELPER")
	if js == "" {
		return
	}
	var ops []docpOp
	if err := json.Unmarshal([]byte(js), &ops); err != nil {
		fmt.Println("bad ops:", err)
		os.Exit(2)
	}
	bus := func() dbus.BusObject {
		if docpHelperConn == nil {
			c, err := dbus.ConnectSessionBus()
			if err != nil {
				fmt.Println("bus:", err)
				os.Exit(2)
			}
			docpHelperConn = c
		}
		return docpHelperConn.Object(docpName, docpPath)
	}
	w := bufio.NewWriter(os.Stdout)
	for _, op := range ops {
		r := docpDo(op, bus)
		js, _ := json.Marshal(r)
		fmt.Fprintf(w, "DOCP %s\n", js)
		w.Flush()
	}
	os.Exit(0)
}

func docpErrno(err error) int {
	var e syscall.Errno
	if errors.As(err, &e) {
		return int(e)
	}
	if err != nil {
		return -1
	}
	return 0
}

// docpOpenFD opens path for passing to the portal in the given way.
func docpOpenFD(path, mode string) (int, func(), error) {
	switch mode {
	case "", "opath":
		fd, err := unix.Open(path, unix.O_PATH|unix.O_CLOEXEC, 0)
		return fd, func() { unix.Close(fd) }, err
	case "rdonly":
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		return fd, func() { unix.Close(fd) }, err
	case "rdwr":
		fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
		return fd, func() { unix.Close(fd) }, err
	case "deleted":
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err == nil {
			err = unix.Unlink(path)
		}
		return fd, func() { unix.Close(fd) }, err
	case "socket":
		l, err := net.Listen("unix", path)
		if err != nil {
			return -1, func() {}, err
		}
		fd, err := unix.Open(path, unix.O_PATH|unix.O_CLOEXEC, 0)
		return fd, func() { unix.Close(fd); l.Close() }, err
	}
	return -1, func() {}, fmt.Errorf("bad mode %q", mode)
}

// The helper's bus connection and TransferClosed signals.
var (
	docpHelperConn *dbus.Conn
	docpHelperSigs chan *dbus.Signal
)

func docpDo(op docpOp, bus func() dbus.BusObject) docpResult {
	var r docpResult
	call := func(method string, args ...any) *dbus.Call {
		c := bus().Call(docpIface+"."+method, 0, args...)
		r.Err = docpErrName(c.Err)
		return c
	}
	switch op.Op {
	case "read":
		b, err := os.ReadFile(op.Path)
		r.Errno, r.Out = docpErrno(err), string(b)
	case "write":
		r.Errno = docpErrno(os.WriteFile(op.Path, []byte(op.Data), 0o644))
	case "open-write":
		f, err := os.OpenFile(op.Path, os.O_WRONLY, 0)
		if err == nil {
			f.Close()
		}
		r.Errno = docpErrno(err)
	case "stat":
		var st unix.Stat_t
		err := unix.Lstat(op.Path, &st)
		r.Errno, r.Out = docpErrno(err), fmt.Sprintf("%o %d", st.Mode, st.Ino)
	case "ls":
		ents, err := os.ReadDir(op.Path)
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		r.Errno, r.Out = docpErrno(err), strings.Join(names, " ")
	case "rename":
		r.Errno = docpErrno(os.Rename(op.Path, op.Path2))
	case "unlink":
		r.Errno = docpErrno(os.Remove(op.Path))
	case "mkdir":
		r.Errno = docpErrno(os.Mkdir(op.Path, 0o755))
	case "truncate":
		r.Errno = docpErrno(os.Truncate(op.Path, 0))
	case "xattr":
		buf := make([]byte, 4096)
		n, err := unix.Getxattr(op.Path, "user.document-portal.host-path", buf)
		r.Errno = docpErrno(err)
		if err == nil {
			r.Out = string(buf[:n])
		}
	case "host-change":
		// Read the document op.Path, rewrite its host file op.Path2 with
		// the same size (op.Data), read again; then keep the document
		// open, make the host file longer, stat and read through the open
		// file. Out: the three reads, one per line.
		first, err := os.ReadFile(op.Path)
		if err == nil {
			err = os.WriteFile(op.Path2, []byte(op.Data), 0o644)
		}
		var second []byte
		if err == nil {
			second, err = os.ReadFile(op.Path)
		}
		var third []byte
		if err == nil {
			var f *os.File
			if f, err = os.Open(op.Path); err == nil {
				buf := make([]byte, 256)
				f.ReadAt(buf, 0)
				if err = os.WriteFile(op.Path2, []byte(op.Data+" and more"), 0o644); err == nil {
					f.Stat()
					n, _ := f.ReadAt(buf, 0)
					third = buf[:n]
				}
				f.Close()
			}
		}
		r.Errno, r.Out = docpErrno(err), string(first)+"\n"+string(second)+"\n"+string(third)
	case "half-write-then-hang":
		// Write half of the data to a new file (a temporary file in a
		// document), tell the test, and wait to be killed.
		f, err := os.OpenFile(op.Path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err == nil {
			_, err = f.Write([]byte(op.Data[:len(op.Data)/2]))
		}
		r.Errno = docpErrno(err)
		js, _ := json.Marshal(r)
		fmt.Printf("DOCP %s\n", js)
		io.Copy(io.Discard, os.Stdin)
		if f != nil {
			f.Write([]byte(op.Data[len(op.Data)/2:]))
			f.Close()
			os.Rename(op.Path, op.Path2)
		}
		os.Exit(0)
	case "add":
		fd, done, err := docpOpenFD(op.Path, op.Mode)
		defer done()
		if err != nil {
			r.Errno = docpErrno(err)
			break
		}
		var id string
		if c := call("Add", dbus.UnixFD(fd), op.Flags&1 != 0, op.Flags&2 != 0); c.Err == nil {
			c.Store(&id)
		}
		r.Out = id
	case "addfull":
		fd, done, err := docpOpenFD(op.Path, op.Mode)
		defer done()
		if err != nil {
			r.Errno = docpErrno(err)
			break
		}
		var ids []string
		var extra map[string]dbus.Variant
		perms := op.Perms
		if perms == nil {
			perms = []string{}
		}
		if c := call("AddFull", []dbus.UnixFD{dbus.UnixFD(fd)}, op.Flags, op.App, perms); c.Err == nil {
			c.Store(&ids, &extra)
			r.Out = strings.Join(ids, " ")
		}
	case "addnamed":
		fd, done, err := docpOpenFD(op.Path, "opath")
		defer done()
		if err != nil {
			r.Errno = docpErrno(err)
			break
		}
		var id string
		if c := call("AddNamed", dbus.UnixFD(fd), append([]byte(op.Data), 0), true, false); c.Err == nil {
			c.Store(&id)
		}
		r.Out = id
	case "grant":
		call("GrantPermissions", op.ID, op.App, op.Perms)
	case "revoke":
		call("RevokePermissions", op.ID, op.App, op.Perms)
	case "delete":
		call("Delete", op.ID)
	case "lookup":
		var id string
		if c := call("Lookup", append([]byte(op.Path), 0)); c.Err == nil {
			c.Store(&id)
		}
		r.Out = id
	case "info":
		var path []byte
		var apps map[string][]string
		if c := call("Info", op.ID); c.Err == nil {
			c.Store(&path, &apps)
			var parts []string
			for app, perms := range apps {
				parts = append(parts, app+"="+strings.Join(perms, ","))
			}
			sort.Strings(parts)
			r.Out = strings.TrimRight(string(path), "\x00") + " " + strings.Join(parts, " ")
		}
	case "list":
		var m map[string][]byte
		if c := call("List", op.App); c.Err == nil {
			c.Store(&m)
			var ids []string
			for id := range m {
				ids = append(ids, id)
			}
			sort.Strings(ids)
			r.Out = strings.Join(ids, " ")
		}
	case "addnamedfull":
		fd, done, err := docpOpenFD(op.Path, "opath")
		defer done()
		if err != nil {
			r.Errno = docpErrno(err)
			break
		}
		var id string
		var extra map[string]dbus.Variant
		perms := op.Perms
		if perms == nil {
			perms = []string{}
		}
		if c := call("AddNamedFull", dbus.UnixFD(fd), append([]byte(op.Data), 0), op.Flags, op.App, perms); c.Err == nil {
			c.Store(&id, &extra)
		}
		r.Out = id
	case "ft-watch":
		bus()
		docpHelperConn.AddMatchSignal(dbus.WithMatchInterface(docpFT), dbus.WithMatchMember("TransferClosed"))
		docpHelperSigs = make(chan *dbus.Signal, 8)
		docpHelperConn.Signal(docpHelperSigs)
	case "ft-closed":
		select {
		case sg := <-docpHelperSigs:
			r.Out = fmt.Sprint(sg.Body...)
		case <-time.After(5 * time.Second):
			r.Err = "timeout"
		}
	case "ft-start":
		var key string
		c := bus().Call(docpFT+".StartTransfer", 0, map[string]dbus.Variant{})
		r.Err = docpErrName(c.Err)
		c.Store(&key)
		r.Out = key
	case "ft-add":
		var fds []dbus.UnixFD
		for _, p := range strings.Fields(op.Path) {
			fd, _, err := docpOpenFD(p, "opath")
			if err != nil {
				r.Errno = docpErrno(err)
			}
			fds = append(fds, dbus.UnixFD(fd))
		}
		c := bus().Call(docpFT+".AddFiles", 0, op.ID, fds, map[string]dbus.Variant{})
		r.Err = docpErrName(c.Err)
	case "ft-transfer":
		// start, add op.Path (space-separated), retrieve, retrieve again.
		var key string
		bus().Call(docpFT+".StartTransfer", 0, map[string]dbus.Variant{}).Store(&key)
		var fds []dbus.UnixFD
		for _, p := range strings.Fields(op.Path) {
			fd, _, _ := docpOpenFD(p, "opath")
			fds = append(fds, dbus.UnixFD(fd))
		}
		if c := bus().Call(docpFT+".AddFiles", 0, key, fds, map[string]dbus.Variant{}); c.Err != nil {
			r.Err = docpErrName(c.Err)
			break
		}
		var files []string
		c := bus().Call(docpFT+".RetrieveFiles", 0, key, map[string]dbus.Variant{})
		r.Err = docpErrName(c.Err)
		c.Store(&files)
		again := bus().Call(docpFT+".RetrieveFiles", 0, key, map[string]dbus.Variant{})
		r.Out = key + "\n" + strings.Join(files, " ") + "\n" + docpErrName(again.Err)
	case "choose":
		// FileChooser.OpenFile through the frontend: subscribe to the
		// Response of the expected request, call, wait.
		bus()
		sender := strings.ReplaceAll(strings.TrimPrefix(docpHelperConn.Names()[0], ":"), ".", "_")
		handle := dbus.ObjectPath("/org/freedesktop/portal/desktop/request/" + sender + "/docp")
		docpHelperConn.AddMatchSignal(dbus.WithMatchObjectPath(handle), dbus.WithMatchInterface("org.freedesktop.portal.Request"))
		ch := make(chan *dbus.Signal, 4)
		docpHelperConn.Signal(ch)
		desk := docpHelperConn.Object("org.freedesktop.portal.Desktop", "/org/freedesktop/portal/desktop")
		c := desk.Call("org.freedesktop.portal.FileChooser.OpenFile", 0, "", "Pick", map[string]dbus.Variant{"handle_token": dbus.MakeVariant("docp")})
		if c.Err != nil {
			r.Err = docpErrName(c.Err)
			break
		}
		select {
		case sg := <-ch:
			if len(sg.Body) == 2 {
				res, _ := sg.Body[1].(map[string]dbus.Variant)
				uris, _ := res["uris"].Value().([]string)
				r.Out = fmt.Sprint(sg.Body[0]) + " " + strings.Join(uris, " ")
			}
		case <-time.After(10 * time.Second):
			r.Err = "no Response"
		}
	case "ft-stop":
		r.Err = docpErrName(bus().Call(docpFT+".StopTransfer", 0, op.ID).Err)
	case "hostpaths":
		var m map[string][]byte
		if c := call("GetHostPaths", op.Perms); c.Err == nil {
			c.Store(&m)
			var parts []string
			for k, v := range m {
				parts = append(parts, k+"="+strings.TrimRight(string(v), "\x00"))
			}
			r.Out = strings.Join(parts, " ")
		}
	case "retrieve":
		var files []string
		c := bus().Call(docpFT+".RetrieveFiles", 0, op.ID, map[string]dbus.Variant{})
		r.Err = docpErrName(c.Err)
		if c.Err == nil {
			c.Store(&files)
			r.Out = strings.Join(files, " ")
		}
	default:
		r.Err = "unknown op " + op.Op
	}
	return r
}

// docpSandbox returns a bwrap command line that runs a process as app id
// app: a fresh root with /.flatpak-info naming app, the host's /usr and
// /etc, /tmp (the bus socket, the runtime dir and this test binary), and
// the app's view of the document portal bind-mounted at
// /run/flatpak/doc, as Flatpak does.
func (e *docpEnv) docpSandbox(t testing.TB, app string, extra ...string) []string {
	t.Helper()
	testenv.RequireCommand(t, "bwrap")
	if !e.u.IsRoot() {
		testenv.RequireUserNS(t)
	}
	info := filepath.Join(testenv.SharedTempDir(t, e.u), "flatpak-info")
	content := "[Application]\nname=" + app + "\nruntime=runtime/org.example.Platform/x86_64/1\n\n[Instance]\ninstance-id=" + fmt.Sprint(time.Now().UnixNano()%1e9) + "\n"
	if err := os.WriteFile(info, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"bwrap", "--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc",
		"--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64", "--symlink", "usr/bin", "/bin",
		"--bind", "/tmp", "/tmp", "--proc", "/proc", "--dev", "/dev",
		"--ro-bind", info, "/.flatpak-info",
		"--bind", filepath.Join(e.mount, "by-app", app), "/run/flatpak/doc",
		"--unshare-pid", "--die-with-parent"}
	args = append(append(args, extra...), "--")
	if e.runtime != "" && !strings.HasPrefix(e.runtime, "/tmp/") {
		t.Fatalf("runtime dir %s outside /tmp", e.runtime)
	}
	return args
}
