package dbusproxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	initialBufSize = 4096
	// maxAuthLine is the longest SASL line accepted, as dbus-daemon.
	maxAuthLine = 16 * 1024
	// maxFDsPerRead is SCM_MAX_FD, the most fds one recvmsg can carry.
	maxFDsPerRead = 253
	flushAt       = 64 * 1024
)

// Buffers of initialBufSize bytes are shared between clients: an idle
// client holds none (most clients of a session bus are idle most of the
// time), a busy one takes one per side while it has unread bytes.
var (
	bufPool = sync.Pool{New: func() any { b := make([]byte, initialBufSize); return &b }}
	oobPool = sync.Pool{New: func() any { b := make([]byte, unix.CmsgSpace(maxFDsPerRead*4)); return &b }}
)

// reader reads one side of a proxied connection: bytes into a buffer, and
// the file descriptors that come with them into a queue. It is used by one
// goroutine only.
type reader struct {
	c    *net.UnixConn
	rc   syscall.RawConn
	buf  []byte // nil when idle; a pooled buffer, or a bigger one for a big message
	r, w int    // buf[r:w] is unread
	oob  *[]byte
	fds  []int
	max  int
	// recvmsg's arguments live here, so that a read allocates nothing
	// (unix.Recvmsg allocates the peer address on every call).
	msg unix.Msghdr
	iov unix.Iovec
	// read's state while the runtime calls recvFn.
	recvFn         func(fd uintptr) bool
	wait, blocked  bool
	n, oobn, flags int
	rerr           error
}

func newReader(c *net.UnixConn, max int) *reader {
	rd := &reader{c: c, max: max}
	rd.recvFn = rd.recv
	if c != nil { // (tests filter messages without connections)
		rd.rc, _ = c.SyscallConn() // cannot fail for a *net.UnixConn
	}
	return rd
}

// ensure makes room for n unread bytes at buf[r:].
func (rd *reader) ensure(n int) {
	if len(rd.buf)-rd.r >= n {
		return
	}
	if rd.buf != nil && n <= len(rd.buf) && rd.w-rd.r < len(rd.buf)/2 {
		copy(rd.buf, rd.buf[rd.r:rd.w])
		rd.w -= rd.r
		rd.r = 0
		return
	}
	var nb []byte
	if n <= initialBufSize {
		nb = *bufPool.Get().(*[]byte)
	} else {
		nb = make([]byte, max(n, 2*len(rd.buf)))
	}
	copy(nb, rd.buf[rd.r:rd.w])
	rd.release()
	rd.buf, rd.w, rd.r = nb, rd.w-rd.r, 0
}

// release gives the buffer back (to the pool if it came from there).
func (rd *reader) release() {
	if len(rd.buf) == initialBufSize {
		b := rd.buf
		bufPool.Put(&b)
	}
	rd.buf = nil
}

// errWouldBlock is what a side's fill returns when the side is idle.
var errWouldBlock = errors.New("would block")

// fill reads at least one more byte (and any fds sent with it), waiting
// for them. While it waits for the peer, an empty buffer is given back.
func (rd *reader) fill() error { return rd.read(true) }

func (rd *reader) read(wait bool) error {
	if rd.r == rd.w {
		rd.r, rd.w = 0, 0
		if len(rd.buf) != initialBufSize {
			rd.release() // drop the memory of a big message
		}
	}
	if rd.w == len(rd.buf) {
		rd.ensure(rd.w - rd.r + initialBufSize)
	}
	rd.wait, rd.blocked = wait, false
	err := rd.rc.Read(rd.recvFn)
	n, oobn, flags, rerr, blocked := rd.n, rd.oobn, rd.flags, rd.rerr, rd.blocked
	rd.rerr = nil
	if blocked || (!wait && errors.Is(err, os.ErrDeadlineExceeded)) {
		return errWouldBlock // (a past deadline: the sweeper's nudge, see poller.go)
	}
	if err == nil {
		err = rerr
	}
	if oobn > 0 {
		if perr := rd.parseRights((*rd.oob)[:oobn]); perr != nil {
			return perr
		}
	}
	if flags&unix.MSG_CTRUNC != 0 {
		return fmt.Errorf("%w: control message truncated", ErrFDs)
	}
	if err != nil {
		return err
	}
	if n <= 0 {
		return io.EOF
	}
	rd.w += n
	return nil
}

// recvmsg reads into p and its control messages into oob, as unix.Recvmsg
// with MSG_CMSG_CLOEXEC, without allocating. p and oob are not empty.
func (rd *reader) recvmsg(fd int, p, oob []byte) (n, oobn, flags int, err error) {
	rd.iov.Base = &p[0]
	rd.iov.SetLen(len(p))
	rd.msg = unix.Msghdr{Iov: &rd.iov, Iovlen: 1, Control: &oob[0]}
	rd.msg.SetControllen(len(oob))
	r, _, errno := unix.Syscall(unix.SYS_RECVMSG, uintptr(fd), uintptr(unsafe.Pointer(&rd.msg)), unix.MSG_CMSG_CLOEXEC)
	rd.iov.Base, rd.msg.Control = nil, nil // keep no pointer into pooled buffers
	if errno != 0 {
		return 0, 0, 0, errno
	}
	return int(r), int(rd.msg.Controllen), int(rd.msg.Flags), nil
}

// recv is the body of read that runs with the fd (rd.recvFn: bound once,
// so that a read allocates no closure). It returns false to wait.
func (rd *reader) recv(fd uintptr) bool {
	if rd.buf == nil {
		rd.ensure(initialBufSize)
	}
	if rd.oob == nil {
		rd.oob = oobPool.Get().(*[]byte)
	}
	rd.n, rd.oobn, rd.flags, rd.rerr = rd.recvmsg(int(fd), rd.buf[rd.w:], *rd.oob)
	if rd.rerr == unix.EAGAIN {
		if rd.r == rd.w {
			rd.release()
		}
		oobPool.Put(rd.oob)
		rd.oob = nil
		rd.blocked = !rd.wait
		return rd.blocked // false: wait until readable
	}
	return rd.rerr != unix.EINTR
}

func (rd *reader) parseRights(oob []byte) error {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrFDs, err)
	}
	for _, m := range msgs {
		if m.Header.Level != unix.SOL_SOCKET || m.Header.Type != unix.SCM_RIGHTS {
			continue
		}
		fds, err := unix.ParseUnixRights(&m)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrFDs, err)
		}
		rd.fds = append(rd.fds, fds...)
	}
	return nil
}

// message returns the next complete message, or nil when more bytes are
// needed. The slice is valid until the next call of message or fill.
func (rd *reader) message() ([]byte, error) {
	if rd.w-rd.r < fixedHeaderLen {
		rd.ensure(fixedHeaderLen)
		return nil, nil
	}
	total, err := messageLen(rd.buf[rd.r:rd.w], rd.max)
	if err != nil {
		return nil, err
	}
	if rd.w-rd.r < total {
		rd.ensure(total)
		return nil, nil
	}
	m := rd.buf[rd.r : rd.r+total]
	rd.r += total
	return m, nil
}

// line returns the next CRLF-terminated line (with its CRLF), or nil when
// more bytes are needed. A line longer than maxAuthLine is an error.
func (rd *reader) line() ([]byte, error) {
	i := bytes.Index(rd.buf[rd.r:rd.w], []byte("\r\n"))
	if i < 0 {
		if rd.w-rd.r >= maxAuthLine {
			return nil, fmt.Errorf("%w: no end of line in %d bytes", ErrBadAuth, rd.w-rd.r)
		}
		return nil, nil
	}
	l := rd.buf[rd.r : rd.r+i+2]
	rd.r += i + 2
	return l, nil
}

// takeFDs removes the first n queued fds. Messages carry their fds with
// their first byte, so a complete message finds all of its fds queued.
func (rd *reader) takeFDs(n uint32) ([]int, error) {
	if n == 0 {
		return nil, nil
	}
	if uint64(n) > uint64(len(rd.fds)) {
		return nil, fmt.Errorf("%w: message needs %d fds, %d received", ErrFDs, n, len(rd.fds))
	}
	fds := rd.fds[:n:n]
	rd.fds = rd.fds[n:]
	if len(rd.fds) == 0 {
		rd.fds = nil
	}
	return fds, nil
}

// close closes the queued fds and gives the buffers back.
func (rd *reader) close() {
	closeFDs(rd.fds)
	rd.fds = nil
	rd.r, rd.w = 0, 0
	rd.release()
	if rd.oob != nil {
		oobPool.Put(rd.oob)
		rd.oob = nil
	}
}

func closeFDs(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// writer writes whole messages to one side. Writes from several goroutines
// are serialised; each message is written completely before the next.
type writer struct {
	mu sync.Mutex
	c  *net.UnixConn
}

// write writes b, attaching fds to its first byte. It does not close fds.
func (wr *writer) write(b []byte, fds []int) error {
	wr.mu.Lock()
	defer wr.mu.Unlock()
	if len(fds) == 0 {
		_, err := wr.c.Write(b)
		return err
	}
	n, _, err := wr.c.WriteMsgUnix(b, unix.UnixRights(fds...), nil)
	if err != nil {
		return err
	}
	if n < len(b) {
		_, err = wr.c.Write(b[n:])
	}
	return err
}

// batch collects messages for one side so that the messages parsed from
// one read leave in one write. A message with fds starts its own write so
// its fds travel with its first byte.
type batch struct {
	w   *writer
	buf []byte
}

// add queues m and then closes fds (the kernel has duplicated them once
// written).
func (b *batch) add(m []byte, fds []int) error {
	if len(fds) > 0 {
		defer closeFDs(fds)
		if err := b.flush(); err != nil {
			return err
		}
		return b.w.write(m, fds)
	}
	if b.buf == nil && len(m) <= initialBufSize {
		b.buf = (*bufPool.Get().(*[]byte))[:0]
	}
	b.buf = append(b.buf, m...)
	if len(b.buf) >= flushAt {
		return b.flush()
	}
	return nil
}

func (b *batch) flush() error {
	if len(b.buf) == 0 {
		return nil
	}
	err := b.w.write(b.buf, nil)
	if cap(b.buf) == initialBufSize {
		p := b.buf[:initialBufSize]
		bufPool.Put(&p)
	}
	b.buf = nil
	return err
}

// sendCredentialsByte writes the NUL byte that opens a D-Bus connection,
// with this process's credentials attached.
func sendCredentialsByte(c *net.UnixConn, b byte) error {
	cred := unix.UnixCredentials(&unix.Ucred{Pid: int32(unix.Getpid()), Uid: uint32(unix.Getuid()), Gid: uint32(unix.Getgid())})
	_, _, err := c.WriteMsgUnix([]byte{b}, cred, nil)
	return err
}

// isClosed reports whether err only says the connection ended.
func isClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
