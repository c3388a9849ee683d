package documentportal

import (
	"context"
	"sync"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// fileHandle is an open real file. Reads and writes go straight to it;
// when the kernel allows FUSE passthrough (CAP_SYS_ADMIN, Linux >= 6.9)
// reads and writes bypass us altogether.
type fileHandle struct {
	mu   sync.Mutex
	fd   int
	rdwr bool // fd is open read-write: it serves as the passthrough fd
	pass int  // fd opened for passthrough, or -1
}

var (
	_ fs.FileReader          = (*fileHandle)(nil)
	_ fs.FileWriter          = (*fileHandle)(nil)
	_ fs.FileFlusher         = (*fileHandle)(nil)
	_ fs.FileFsyncer         = (*fileHandle)(nil)
	_ fs.FileReleaser        = (*fileHandle)(nil)
	_ fs.FileLseeker         = (*fileHandle)(nil)
	_ fs.FileAllocater       = (*fileHandle)(nil)
	_ fs.FileGetlker         = (*fileHandle)(nil)
	_ fs.FileSetlker         = (*fileHandle)(nil)
	_ fs.FileSetlkwer        = (*fileHandle)(nil)
	_ fs.FilePassthroughFder = (*fileHandle)(nil)
)

// spliceMin is the largest read served by pread(2) and one writev(2);
// larger ones are spliced from the file to the kernel (one copy less, but
// four system calls instead of two).
const spliceMin = 64 << 10

func newFileHandle(fd int) *fileHandle { return &fileHandle{fd: fd, pass: -1} }

// PassthroughFd gives the kernel a backing file. go-fuse registers one
// backing file per inode, from the first open, and reuses it for later
// opens, so it must be writable whenever the file is: it is opened anew
// read-write (read-only when that is refused). Access modes stay enforced
// by the kernel on the FUSE file itself.
func (h *fileHandle) PassthroughFd() (int, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.rdwr {
		return h.fd, true
	}
	if h.pass < 0 {
		fd, err := unix.Open(procFD(h.fd), unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			fd, err = unix.Open(procFD(h.fd), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		}
		if err != nil {
			return -1, false
		}
		h.pass = fd
	}
	return h.pass, true
}

func (h *fileHandle) Read(ctx context.Context, buf []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if len(buf) <= spliceMin {
		n, err := unix.Pread(h.fd, buf, off)
		if err != nil {
			return nil, fs.ToErrno(err)
		}
		// A vector is written with one writev; go-fuse would first try
		// (and fail) to splice a plain data result.
		return fuse.ReadResultVector([][]byte{buf[:n]}), 0
	}
	return fuse.ReadResultFd(uintptr(h.fd), off, len(buf)), 0
}

func (h *fileHandle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	n, err := unix.Pwrite(h.fd, data, off)
	return uint32(n), fs.ToErrno(err)
}

func (h *fileHandle) Flush(ctx context.Context) syscall.Errno {
	// Like close(dup(fd)): reports deferred write errors of NFS and such.
	fd, err := unix.Dup(h.fd)
	if err != nil {
		return fs.ToErrno(err)
	}
	return fs.ToErrno(unix.Close(fd))
}

func (h *fileHandle) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	if flags&1 != 0 {
		return fs.ToErrno(unix.Fdatasync(h.fd))
	}
	return fs.ToErrno(unix.Fsync(h.fd))
}

func (h *fileHandle) Release(ctx context.Context) syscall.Errno {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.pass >= 0 {
		unix.Close(h.pass)
		h.pass = -1
	}
	if h.fd >= 0 {
		unix.Close(h.fd)
		h.fd = -1
	}
	return 0
}

func (h *fileHandle) Lseek(ctx context.Context, off uint64, whence uint32) (uint64, syscall.Errno) {
	n, err := unix.Seek(h.fd, int64(off), int(whence))
	return uint64(n), fs.ToErrno(err)
}

func (h *fileHandle) Allocate(ctx context.Context, off uint64, size uint64, mode uint32) syscall.Errno {
	return fs.ToErrno(unix.Fallocate(h.fd, mode, int64(off), int64(size)))
}

func (h *fileHandle) Getlk(ctx context.Context, owner uint64, lk *fuse.FileLock, flags uint32, out *fuse.FileLock) syscall.Errno {
	flk := syscall.Flock_t{}
	lk.ToFlockT(&flk)
	err := syscall.FcntlFlock(uintptr(h.fd), unix.F_OFD_GETLK, &flk)
	out.FromFlockT(&flk)
	return fs.ToErrno(err)
}

func (h *fileHandle) Setlk(ctx context.Context, owner uint64, lk *fuse.FileLock, flags uint32) syscall.Errno {
	return h.setLock(lk, flags, false)
}

func (h *fileHandle) Setlkw(ctx context.Context, owner uint64, lk *fuse.FileLock, flags uint32) syscall.Errno {
	return h.setLock(lk, flags, true)
}

func (h *fileHandle) setLock(lk *fuse.FileLock, flags uint32, wait bool) syscall.Errno {
	if flags&fuse.FUSE_LK_FLOCK != 0 {
		var op int
		switch lk.Typ {
		case syscall.F_RDLCK:
			op = unix.LOCK_SH
		case syscall.F_WRLCK:
			op = unix.LOCK_EX
		case syscall.F_UNLCK:
			op = unix.LOCK_UN
		default:
			return syscall.EINVAL
		}
		if !wait {
			op |= unix.LOCK_NB
		}
		return fs.ToErrno(unix.Flock(h.fd, op))
	}
	flk := syscall.Flock_t{}
	lk.ToFlockT(&flk)
	cmd := unix.F_OFD_SETLK
	if wait {
		cmd = unix.F_OFD_SETLKW
	}
	return fs.ToErrno(syscall.FcntlFlock(uintptr(h.fd), cmd, &flk))
}
