package busconn

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The socket is read and written with raw system calls, inside the
// runtime's RawConn callbacks (which still park the goroutine in the
// poller when the socket would block). A non-blocking recvmsg or write
// returns at once, so the runtime need not be told: its usual system call
// entry wakes the runtime's monitor thread whenever that sleeps, a futex
// wake and a context switch on nearly every call of a busy connection.

// recvmsg reads into buf and t.oob, waiting in the poller for data.
func (t *transport) recvmsg(buf []byte) (n, oobn int, err error) {
	t.rbuf = buf
	err = t.rc.Read(t.recvFn)
	t.rbuf = nil
	if err == nil {
		err = t.rerr
	}
	return t.rn, t.roobn, err
}

// recv is recvmsg's callback (bound once in newTransport: no closure per
// read). It returns false to wait for the socket.
func (t *transport) recv(fd uintptr) bool {
	iov := unix.Iovec{Base: &t.rbuf[0]}
	iov.SetLen(len(t.rbuf))
	msg := unix.Msghdr{Iov: &iov, Iovlen: 1, Control: &t.oob[0]}
	msg.SetControllen(len(t.oob))
	r, _, errno := unix.RawSyscall(unix.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&msg)), unix.MSG_CMSG_CLOEXEC|unix.MSG_DONTWAIT)
	t.rn, t.roobn, t.rerr = 0, 0, nil
	switch errno {
	case 0:
		t.rn, t.roobn = int(r), int(msg.Controllen)
	case unix.EAGAIN:
		return false
	case unix.EINTR:
		return t.recv(fd)
	default:
		t.rerr = os.NewSyscallError("recvmsg", errno)
	}
	return true
}

// write writes all of b, waiting in the poller when the socket is full.
// Writers are serialized by the caller (wmu).
func (t *transport) write(b []byte) error {
	var werr error
	err := t.rc.Write(func(fd uintptr) bool {
		for len(b) > 0 {
			r, _, errno := unix.RawSyscall(unix.SYS_WRITE, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
			switch errno {
			case 0:
				b = b[r:]
			case unix.EINTR:
			case unix.EAGAIN:
				return false
			default:
				werr = os.NewSyscallError("write", errno)
				return true
			}
		}
		return true
	})
	if err != nil {
		return err
	}
	return werr
}
