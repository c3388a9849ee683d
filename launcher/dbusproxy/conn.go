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
// the file descriptors that come with them into a queue. Its socket is
// non-blocking and read only by the loop (see loop.go).
type reader struct {
	fd   int
	buf  []byte // nil when idle; a pooled buffer, or a bigger one for a big message
	r, w int    // buf[r:w] is unread
	oob  *[]byte
	fds  []int
	max  int
	// short: the last read left room in the buffer, so the socket had no
	// more; the next fill of this round reports errWouldBlock without
	// asking the kernel (the loop's level-triggered poll reports the
	// socket again if more came meanwhile).
	short bool
	// recvmsg's arguments live here, so that a read allocates nothing
	// (unix.Recvmsg allocates the peer address on every call).
	msg unix.Msghdr
	iov unix.Iovec
}

func newReader(fd, max int) *reader { return &reader{fd: fd, max: max} }

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

// errWouldBlock is what fill returns when the socket has nothing more to
// read for now.
var errWouldBlock = errors.New("would block")

// fill reads at least one more byte (and any fds sent with it), or returns
// errWouldBlock. An empty buffer is given back while the side waits.
func (rd *reader) fill() error {
	if rd.r == rd.w {
		rd.r, rd.w = 0, 0
		if len(rd.buf) != initialBufSize {
			rd.release() // drop the memory of a big message (or an idle side's)
		}
	}
	if rd.short {
		rd.short = false
		rd.idle()
		return errWouldBlock
	}
	if rd.buf == nil || rd.w == len(rd.buf) {
		rd.ensure(rd.w - rd.r + initialBufSize)
	}
	if rd.oob == nil {
		rd.oob = oobPool.Get().(*[]byte)
	}
	var n, oobn, flags int
	var err error
	for {
		n, oobn, flags, err = rd.recvmsg(rd.buf[rd.w:], *rd.oob)
		if err != unix.EINTR {
			break
		}
	}
	if err == unix.EAGAIN {
		rd.idle()
		return errWouldBlock
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
		return os.NewSyscallError("recvmsg", err)
	}
	if n <= 0 {
		return io.EOF
	}
	rd.short = n < len(rd.buf)-rd.w
	rd.w += n
	return nil
}

// idle gives back what a waiting reader need not hold: the control
// message buffer, and the data buffer when it holds nothing unread.
func (rd *reader) idle() {
	if rd.r == rd.w {
		rd.release()
	}
	if rd.oob != nil {
		oobPool.Put(rd.oob)
		rd.oob = nil
	}
}

// recvmsg reads into p and its control messages into oob, as unix.Recvmsg
// with MSG_CMSG_CLOEXEC, without allocating. p and oob are not empty.
func (rd *reader) recvmsg(p, oob []byte) (n, oobn, flags int, err error) {
	rd.iov.Base = &p[0]
	rd.iov.SetLen(len(p))
	rd.msg = unix.Msghdr{Iov: &rd.iov, Iovlen: 1, Control: &oob[0]}
	rd.msg.SetControllen(len(oob))
	// (A raw system call: it does not block, and the runtime's usual entry
	// wakes its monitor thread whenever that sleeps — see loop.go.)
	r, _, errno := unix.RawSyscall(unix.SYS_RECVMSG, uintptr(rd.fd), uintptr(unsafe.Pointer(&rd.msg)), unix.MSG_CMSG_CLOEXEC|unix.MSG_DONTWAIT)
	rd.iov.Base, rd.msg.Control = nil, nil // keep no pointer into pooled buffers
	if errno != 0 {
		return 0, 0, 0, errno
	}
	return int(r), int(rd.msg.Controllen), int(rd.msg.Flags), nil
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

// highWater is how many bytes may wait for a slow reader before the
// sides that write to it stop reading (see client.throttle).
const highWater = 1 << 20

// writer writes whole messages to one socket, in order. What the socket
// cannot take at once waits in a queue, sent when the loop reports the
// socket writable. It is used by the loop only.
type writer struct {
	fd     int
	q      []chunk
	queued int    // bytes in q
	notify func() // called when q becomes empty or not, or passes highWater
}

// full reports whether more than highWater bytes wait.
func (wr *writer) full() bool { return wr.queued > highWater }

// changed calls notify if the queue became empty or not, or crossed
// highWater, since it was as the arguments say.
func (wr *writer) changed(wasEmpty, wasFull bool) {
	if wasEmpty != (len(wr.q) == 0) || wasFull != wr.full() {
		wr.notify()
	}
}

// chunk is queued output: bytes, and the fds that go with their first byte.
type chunk struct {
	b   []byte
	fds []int
}

// write writes b, attaching fds to its first byte; fds are closed once the
// kernel has them, or on error.
func (wr *writer) write(b []byte, fds []int) error {
	if len(wr.q) > 0 {
		wr.enqueue(b, fds)
		return nil
	}
	n, err := wr.send(b, fds)
	if err == unix.EAGAIN {
		wr.enqueue(b, fds)
		return nil
	}
	if err != nil {
		closeFDs(fds)
		return err
	}
	if n < len(b) {
		wr.enqueue(b[n:], nil)
	}
	return nil
}

// send writes what the socket takes of b now, without waiting. Once a
// byte is written fds are sent and closed; on an error they are not.
func (wr *writer) send(b []byte, fds []int) (n int, err error) {
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	for {
		n, err = sendmsg(wr.fd, b, oob)
		if err != unix.EINTR {
			break
		}
	}
	if err == unix.EAGAIN {
		return 0, err
	}
	if err != nil {
		return 0, os.NewSyscallError("sendmsg", err)
	}
	closeFDs(fds)
	return n, nil
}

// sendmsg is a non-blocking sendmsg(2) of b with the control message oob,
// as a raw system call (see recvmsg). b is not empty.
func sendmsg(fd int, b, oob []byte) (int, error) {
	iov := unix.Iovec{Base: &b[0]}
	iov.SetLen(len(b))
	msg := unix.Msghdr{Iov: &iov, Iovlen: 1}
	if len(oob) > 0 {
		msg.Control = &oob[0]
		msg.SetControllen(len(oob))
	}
	r, _, errno := unix.RawSyscall(unix.SYS_SENDMSG, uintptr(fd), uintptr(unsafe.Pointer(&msg)), unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL)
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}

func (wr *writer) enqueue(b []byte, fds []int) {
	defer wr.changed(len(wr.q) == 0, wr.full())
	wr.q = append(wr.q, chunk{b: bytes.Clone(b), fds: fds})
	wr.queued += len(b)
}

// drain sends queued output until the socket would block.
func (wr *writer) drain() error {
	defer wr.changed(len(wr.q) == 0, wr.full())
	for len(wr.q) > 0 {
		c := &wr.q[0]
		n, err := wr.send(c.b, c.fds)
		if err == unix.EAGAIN {
			break
		}
		if err != nil {
			return err
		}
		c.fds = nil
		wr.queued -= n
		if n < len(c.b) {
			c.b = c.b[n:]
			break
		}
		wr.q[0] = chunk{}
		wr.q = wr.q[1:]
	}
	if len(wr.q) == 0 {
		wr.q = nil
	}
	return nil
}

// close closes the fds of queued output and drops it.
func (wr *writer) close() {
	for _, c := range wr.q {
		closeFDs(c.fds)
	}
	wr.q, wr.queued = nil, 0
}

// batch collects messages for one side so that the messages parsed from
// one read leave in one write. A message with fds starts its own write so
// its fds travel with its first byte.
type batch struct {
	w   *writer
	buf []byte
}

// add queues m; fds go with it (and are closed once sent).
func (b *batch) add(m []byte, fds []int) error {
	if len(fds) > 0 {
		if err := b.flush(); err != nil {
			closeFDs(fds)
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

// release drops what is batched.
func (b *batch) release() {
	if cap(b.buf) == initialBufSize {
		p := b.buf[:initialBufSize]
		bufPool.Put(&p)
	}
	b.buf = nil
}

func (b *batch) flush() error {
	if len(b.buf) == 0 {
		return nil
	}
	err := b.w.write(b.buf, nil)
	b.release()
	return err
}

// sendCredentialsByte writes the NUL byte that opens a D-Bus connection,
// with this process's credentials attached. The socket is new: it takes
// one byte at once.
func sendCredentialsByte(fd int, b byte) error {
	cred := unix.UnixCredentials(&unix.Ucred{Pid: int32(unix.Getpid()), Uid: uint32(unix.Getuid()), Gid: uint32(unix.Getgid())})
	if err := unix.Sendmsg(fd, []byte{b}, cred, nil, unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL); err != nil {
		return os.NewSyscallError("sendmsg", err)
	}
	return nil
}

// isClosed reports whether err only says the connection ended.
func isClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
