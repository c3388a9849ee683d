package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Mode is a repository mode, as in [core] mode=.
type Mode int

// Repository modes.
const (
	ModeBare         Mode = iota // objects stored as themselves: real owner, mode, xattrs (needs root)
	ModeArchive                  // "archive-z2": .filez objects, servable over HTTP
	ModeBareUser                 // regular files + user.ostreemeta xattr
	ModeBareUserOnly             // regular files/symlinks with their mode only (flatpak)
)

// String returns the config spelling ("archive-z2" for ModeArchive).
func (m Mode) String() string {
	switch m {
	case ModeBare:
		return "bare"
	case ModeArchive:
		return "archive-z2"
	case ModeBareUser:
		return "bare-user"
	case ModeBareUserOnly:
		return "bare-user-only"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// ParseMode accepts the spellings ostree accepts ("archive" and "archive-z2"
// for ModeArchive).
func ParseMode(s string) (Mode, error) {
	switch s {
	case "bare":
		return ModeBare, nil
	case "archive", "archive-z2":
		return ModeArchive, nil
	case "bare-user":
		return ModeBareUser, nil
	case "bare-user-only":
		return ModeBareUserOnly, nil
	}
	return 0, fmt.Errorf("unknown repo mode %q", s)
}

// Repo is an OSTree repository on disk. Its methods are safe for
// concurrent use by several goroutines; several processes may write to one
// repository at once (each holds the shared lock while it writes).
type Repo struct {
	dir  string
	mode Mode

	cfgMu sync.Mutex
	cfg   *Config

	// staging of object writes, see repo_objects.go
	stMu     sync.Mutex
	staging  *stagingDirHandle // tmp/staging-XXXX, created lazily
	cleaned  bool              // stale staging directories removed once
	pending  map[string]string // loose path of a staged object → its file in the staging dir
	stUnlock func()            // shared lock held while objects are staged
	pendingN int
}

// LockTimeout is how long Lock waits for a conflicting holder (ostree's
// default lock-timeout-secs is 30).
var LockTimeout = 30 * time.Second

// Init creates a repository in dir (created if missing, must not hold a
// repository yet) and returns it open. The config is byte-identical to
// `ostree init`'s.
func Init(ctx context.Context, dir string, mode Mode) (*Repo, error) {
	if _, err := os.Stat(filepath.Join(dir, "config")); err == nil {
		return nil, fmt.Errorf("cannot init %s: a repository already exists", dir)
	}
	if mode.String()[0] == 'M' {
		return nil, fmt.Errorf("cannot init %s: unknown mode %d", dir, int(mode))
	}
	for _, d := range []string{"", "objects", "tmp", "tmp/cache", "extensions", "state", "refs", "refs/heads", "refs/mirrors", "refs/remotes"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("cannot init %s: %w", dir, err)
		}
	}
	cfg := fmt.Sprintf("[core]\nrepo_version=1\nmode=%s\n", mode)
	if err := writeFileAtomic(filepath.Join(dir, "config"), []byte(cfg), 0o644); err != nil {
		return nil, fmt.Errorf("cannot init %s: %w", dir, err)
	}
	return Open(ctx, dir)
}

// Open opens an existing repository.
func Open(ctx context.Context, dir string) (*Repo, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(abs, "config"))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("cannot open repository %s: no config file", dir)
		}
		return nil, fmt.Errorf("cannot open repository %s: %w", dir, err)
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("cannot open repository %s: %w", dir, err)
	}
	if v, _ := cfg.Value("core", "repo_version"); v != "1" {
		return nil, fmt.Errorf("cannot open repository %s: unsupported repo_version %q", dir, v)
	}
	ms, _ := cfg.Value("core", "mode")
	if ms == "" {
		ms = "bare"
	}
	mode, err := ParseMode(ms)
	if err != nil {
		return nil, fmt.Errorf("cannot open repository %s: %w", dir, err)
	}
	if fi, err := os.Stat(filepath.Join(abs, "objects")); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("cannot open repository %s: no objects directory", dir)
	}
	for _, d := range []string{"tmp", "state", "refs/heads", "refs/remotes", "refs/mirrors"} {
		os.MkdirAll(filepath.Join(abs, d), 0o755)
	}
	return &Repo{dir: abs, mode: mode, cfg: cfg, pending: map[string]string{}}, nil
}

// Close writes out staged objects (see Flush) and releases the repo's
// locks. It does not move any ref.
func (r *Repo) Close() error {
	err := r.Flush(context.Background())
	r.stMu.Lock()
	if r.staging != nil && len(r.pending) == 0 {
		r.staging.release()
		r.staging = nil
	}
	r.stMu.Unlock()
	return err
}

// Path returns the repository's absolute directory.
func (r *Repo) Path() string { return r.dir }

// Mode returns the repository mode.
func (r *Repo) Mode() Mode { return r.mode }

// Config returns a copy of the current config.
func (r *Repo) Config() *Config {
	r.cfgMu.Lock()
	defer r.cfgMu.Unlock()
	return r.cfg.Clone()
}

// ConfigValue returns one config value.
func (r *Repo) ConfigValue(group, key string) (string, bool) {
	r.cfgMu.Lock()
	defer r.cfgMu.Unlock()
	return r.cfg.Value(group, key)
}

// UpdateConfig re-reads the config file, lets fn modify it and writes it
// back atomically. Nothing is written when fn returns an error.
func (r *Repo) UpdateConfig(fn func(cfg *Config) error) error {
	r.cfgMu.Lock()
	defer r.cfgMu.Unlock()
	path := filepath.Join(r.dir, "config")
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading config: %w", err)
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return fmt.Errorf("reading config: %w", err)
	}
	if err := fn(cfg); err != nil {
		return err
	}
	if err := writeFileAtomic(path, cfg.Marshal(), 0o644); err != nil {
		return fmt.Errorf("writing config: %w", err)
	}
	r.cfg = cfg
	return nil
}

// Lock takes the repository lock (an open file description lock on
// .lock, the kind ostree takes): shared for writers of objects and refs,
// exclusive for prune, as ostree does. It waits up to
// LockTimeout, then fails with ErrLocked. Call unlock exactly once.
func (r *Repo) Lock(ctx context.Context, exclusive bool) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(r.dir, ".lock"), os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cannot lock repository: %w", err)
	}
	// Open file description locks, as ostree takes them, so ostree and
	// porthole exclude each other.
	lk := unix.Flock_t{Type: unix.F_RDLCK, Whence: 0}
	if exclusive {
		lk.Type = unix.F_WRLCK
	}
	deadline := time.Now().Add(LockTimeout)
	for delay := time.Millisecond; ; delay = min(delay*2, 100*time.Millisecond) {
		err = unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lk)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EACCES) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, fmt.Errorf("cannot lock repository: %w", err)
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("cannot lock repository %s: %w", r.dir, ErrLocked)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(delay):
		}
	}
	var once sync.Once
	return func() { once.Do(func() { f.Close() }) }, nil
}

// writeFileAtomic writes data to a temporary file next to path, fsyncs it
// and renames it over path.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
