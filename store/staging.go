package store

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Each Repo stages objects in its own tmp/staging-XXXX directory and holds
// an flock on it for as long as it uses it. A directory whose flock can be
// taken belongs to no live writer (its process died, e.g. kill -9) and is
// removed: by the next Flush of any writer and by prune.

type stagingDirHandle struct {
	path string
	fd   int
	// Staged files are spread over up to 256 subdirectories (named by the
	// first byte of their random name, made on first use), as ostree
	// does: concurrent writers creating files in a single directory
	// contend on its lock.
	subMu sync.Mutex
	subs  [256]bool
}

// newPath returns a fresh path for a staged file, making its
// subdirectory if needed.
func (h *stagingDirHandle) newPath() (string, error) {
	var b [12]byte
	rand.Read(b[:])
	name := hex.EncodeToString(b[:])
	h.subMu.Lock()
	defer h.subMu.Unlock()
	sub := filepath.Join(h.path, name[:2])
	if !h.subs[b[0]] {
		if err := os.Mkdir(sub, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("cannot create staging directory: %w", err)
		}
		h.subs[b[0]] = true
	}
	return filepath.Join(sub, name[2:]), nil
}

// newStagingDir creates and locks a staging directory. It is made under a
// name cleaners ignore and renamed once locked, so nobody can see it
// unlocked.
func newStagingDir(repoDir string) (*stagingDirHandle, error) {
	tmp := filepath.Join(repoDir, "tmp")
	init, err := os.MkdirTemp(tmp, ".staging-init-")
	if err != nil {
		return nil, fmt.Errorf("cannot create staging directory: %w", err)
	}
	fd, err := unix.Open(init, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err == nil {
		err = unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		if err != nil {
			unix.Close(fd)
		}
	}
	if err != nil {
		os.Remove(init)
		return nil, fmt.Errorf("cannot lock staging directory: %w", err)
	}
	final := filepath.Join(tmp, "staging-"+strings.TrimPrefix(filepath.Base(init), ".staging-init-"))
	if err := os.Rename(init, final); err != nil {
		unix.Close(fd)
		os.Remove(init)
		return nil, fmt.Errorf("cannot create staging directory: %w", err)
	}
	return &stagingDirHandle{path: final, fd: fd}, nil
}

// release removes the directory and drops the lock.
func (h *stagingDirHandle) release() {
	os.RemoveAll(h.path)
	unix.Close(h.fd)
}

// cleanStaleStaging removes staging directories no live writer holds
// (and half-made ones older than an hour). own is skipped.
func cleanStaleStaging(repoDir, own string) {
	tmp := filepath.Join(repoDir, "tmp")
	ents, err := os.ReadDir(tmp)
	if err != nil {
		return
	}
	for _, e := range ents {
		p := filepath.Join(tmp, e.Name())
		switch {
		case p == own || !e.IsDir():
		case strings.HasPrefix(e.Name(), "staging-"):
			fd, err := unix.Open(p, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
			if err != nil {
				continue
			}
			// A live writer holds the lock: keep its directory.
			if unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) == nil {
				os.RemoveAll(p)
			}
			unix.Close(fd)
		case strings.HasPrefix(e.Name(), ".staging-init-"):
			if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > time.Hour {
				os.RemoveAll(p)
			}
		}
	}
}
