package store

import (
	"errors"
	"io"

	"golang.org/x/sys/unix"
)

// rawFile is a file descriptor used directly. Regular files gain nothing
// from Go's netpoller, and *os.File costs an fcntl and a failing epoll_ctl
// per open, which shows in commit and fsck of many small files.
type rawFile struct {
	fd   int
	name string
}

func openRaw(path string, flags int, perm uint32) (*rawFile, error) {
	for {
		fd, err := unix.Open(path, flags|unix.O_CLOEXEC, perm)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, &pathError{op: "open", path: path, err: err}
		}
		return &rawFile{fd: fd, name: path}, nil
	}
}

type pathError struct {
	op, path string
	err      error
}

func (e *pathError) Error() string { return e.op + " " + e.path + ": " + e.err.Error() }
func (e *pathError) Unwrap() error { return e.err }

// Read implements io.Reader.
func (f *rawFile) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		n, err := unix.Read(f.fd, p)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return 0, &pathError{op: "read", path: f.name, err: err}
		}
		if n == 0 {
			return 0, io.EOF
		}
		return n, nil
	}
}

// Write implements io.Writer; it writes all of p or fails.
func (f *rawFile) Write(p []byte) (int, error) {
	done := 0
	for done < len(p) {
		n, err := unix.Write(f.fd, p[done:])
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return done, &pathError{op: "write", path: f.name, err: err}
		}
		done += n
	}
	return done, nil
}

// Seek implements io.Seeker.
func (f *rawFile) Seek(off int64, whence int) (int64, error) {
	return unix.Seek(f.fd, off, whence)
}

// Stat returns fstat(2) of the file.
func (f *rawFile) Stat() (unix.Stat_t, error) {
	var st unix.Stat_t
	err := unix.Fstat(f.fd, &st)
	return st, err
}

// Close closes the descriptor once.
func (f *rawFile) Close() error {
	if f.fd < 0 {
		return nil
	}
	err := unix.Close(f.fd)
	f.fd = -1
	return err
}
