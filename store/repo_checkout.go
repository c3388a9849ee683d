package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/porthole-dev/porthole/store/object"
	"golang.org/x/sys/unix"
)

// CheckoutOptions are ostree checkout's options.
type CheckoutOptions struct {
	// UserMode (-U): do not chown, do not set xattrs, drop setuid/setgid.
	UserMode bool
	// RequireHardlinks fails instead of copying when a file cannot be hard
	// linked from the repository.
	RequireHardlinks bool
	// Union merges into an existing destination, replacing files.
	Union bool
	// Subpath checks out only this directory of the commit ("/a/b").
	Subpath string
	// Progress receives files written so far.
	Progress ProgressFunc
	// Jobs is the number of parallel workers; 0 means GOMAXPROCS.
	Jobs int
}

// ErrEscape is wrapped by checkout errors about paths that would resolve
// outside the destination.
var ErrEscape = errors.New("path escapes the checkout")

type coDir struct {
	rel   string // path below dest, "" for the root
	meta  object.DirMeta
	depth int
}

type coFiles struct {
	rel   string
	files []object.TreeFile
}

// Checkout writes the tree of a commit (or refspec) to dest. Every
// directory is reached from dest without following symlinks, so entries in
// dest or in the commit cannot redirect writes outside it; symlink objects
// are created as they are, never followed.
func Checkout(ctx context.Context, repo *Repo, refspec, dest string, opts CheckoutOptions) error {
	sum, err := repo.ResolveRef(ctx, refspec)
	if err != nil {
		return err
	}
	data, err := repo.ReadMetadata(ctx, object.TypeCommit, sum)
	if err != nil {
		return fmt.Errorf("reading commit %s: %w", sum, err)
	}
	cm, err := object.UnmarshalCommit(data)
	if err != nil {
		return &corruptError{object.ObjectName{Checksum: sum, Type: object.TypeCommit}, err}
	}
	tree, meta := cm.RootTree, cm.RootMeta
	var single *object.TreeFile // --subpath naming a file
	if sp := strings.Trim(path.Clean("/"+opts.Subpath), "/"); sp != "" {
		comps := strings.Split(sp, "/")
		for i, comp := range comps {
			t, err := repo.readDirTree(ctx, tree)
			if err != nil {
				return err
			}
			found := false
			for _, d := range t.Dirs {
				if d.Name == comp {
					tree, meta, found = d.Tree, d.Meta, true
					break
				}
			}
			for _, f := range t.Files {
				if f.Name == comp && i == len(comps)-1 {
					single, found = &f, true
					break
				}
			}
			if !found {
				return fmt.Errorf("subpath %s: not in commit %s: %w", opts.Subpath, sum, ErrObjectNotFound)
			}
		}
	}
	if repo.mode == ModeBare && !opts.UserMode && os.Geteuid() != 0 {
		opts.UserMode = true
	}
	if !opts.Union {
		if _, err := os.Lstat(dest); err == nil {
			return fmt.Errorf("cannot check out to %s: destination exists", dest)
		}
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return err
	}
	if single != nil {
		return checkoutFile(ctx, repo, *single, dest, &opts)
	}
	if err := unix.Mkdir(dest, 0o700); err != nil && !(opts.Union && errors.Is(err, unix.EEXIST)) {
		return fmt.Errorf("cannot check out to %s: %w", dest, err)
	}
	destfd, err := unix.Open(dest, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("cannot check out to %s: %w", dest, err)
	}
	defer unix.Close(destfd)

	co := &checkouter{repo: repo, opts: &opts, destfd: destfd, dest: dest}
	co.hardlink = opts.UserMode && (repo.mode == ModeBareUserOnly || repo.mode == ModeBareUser) ||
		!opts.UserMode && repo.mode == ModeBare
	if opts.RequireHardlinks && !co.hardlink {
		return fmt.Errorf("cannot check out %s with hard links from a %s repository in this mode: %w", refspec, repo.mode, ErrUnsupported)
	}
	if co.hardlink {
		if err := repo.Flush(ctx); err != nil {
			return err
		}
		if co.objfd, err = unix.Open(repo.objectsDir(), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
			return err
		}
		defer unix.Close(co.objfd)
	}
	if err := co.run(ctx, tree, meta); err != nil {
		return err
	}
	// Directory metadata last, deepest first, so read-only directories do
	// not block writing their contents.
	for i := len(co.dirs) - 1; i >= 0; i-- {
		if err := co.applyDirMeta(co.dirs[i]); err != nil {
			return err
		}
	}
	return nil
}

func (r *Repo) readDirTree(ctx context.Context, c object.Checksum) (object.DirTree, error) {
	data, err := r.ReadMetadata(ctx, object.TypeDirTree, c)
	if err != nil {
		return object.DirTree{}, fmt.Errorf("reading dirtree %s: %w", c, err)
	}
	t, err := object.UnmarshalDirTree(data)
	if err != nil {
		return t, &corruptError{object.ObjectName{Checksum: c, Type: object.TypeDirTree}, err}
	}
	return t, nil
}

func (r *Repo) readDirMeta(ctx context.Context, c object.Checksum) (object.DirMeta, error) {
	data, err := r.ReadMetadata(ctx, object.TypeDirMeta, c)
	if err != nil {
		return object.DirMeta{}, fmt.Errorf("reading dirmeta %s: %w", c, err)
	}
	m, err := object.UnmarshalDirMeta(data)
	if err != nil {
		return m, &corruptError{object.ObjectName{Checksum: c, Type: object.TypeDirMeta}, err}
	}
	return m, nil
}

type checkouter struct {
	repo     *Repo
	opts     *CheckoutOptions
	destfd   int
	dest     string
	hardlink bool
	objfd    int // objects/, for linkat with short relative paths
	dirs     []coDir
	jobs     chan coFiles
	metas    map[object.Checksum]object.DirMeta // dirmeta objects read so far
	total    atomic.Int64
	done     atomic.Int64
}

// openBeneath opens the directory rel below dest without following any
// symlink and without leaving dest.
func (co *checkouter) openBeneath(rel string) (int, error) {
	if rel == "" {
		return unix.Dup(co.destfd)
	}
	how := unix.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS}
	fd, err := unix.Openat2(co.destfd, rel, &how)
	if err == nil {
		return fd, nil
	}
	if !errors.Is(err, unix.ENOSYS) {
		if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.EXDEV) || errors.Is(err, unix.ENOTDIR) {
			return -1, fmt.Errorf("%s: %w", filepath.Join(co.dest, rel), ErrEscape)
		}
		return -1, err
	}
	// Kernels before 5.6: walk component by component.
	fd, err = unix.Dup(co.destfd)
	if err != nil {
		return -1, err
	}
	for _, comp := range strings.Split(rel, "/") {
		nfd, err := unix.Openat(fd, comp, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		unix.Close(fd)
		if err != nil {
			if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
				return -1, fmt.Errorf("%s: %w", filepath.Join(co.dest, rel), ErrEscape)
			}
			return -1, err
		}
		fd = nfd
	}
	return fd, nil
}

// mkdirs creates the directory skeleton depth-first and queues file jobs.
func (co *checkouter) mkdirs(ctx context.Context, rel string, tree, meta object.Checksum, depth int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t, err := co.repo.readDirTree(ctx, tree)
	if err != nil {
		return err
	}
	m, ok := co.metas[meta]
	if !ok {
		if m, err = co.repo.readDirMeta(ctx, meta); err != nil {
			return err
		}
		co.metas[meta] = m
	}
	co.dirs = append(co.dirs, coDir{rel: rel, meta: m, depth: depth})
	// The directory exists now (made by the parent level): its files can
	// be written while the walk goes on.
	for i := 0; i < len(t.Files); i += 256 {
		co.total.Add(int64(min(256, len(t.Files)-i)))
		select {
		case co.jobs <- coFiles{rel: rel, files: t.Files[i:min(i+256, len(t.Files))]}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if len(t.Dirs) == 0 {
		return nil
	}
	fd, err := co.openBeneath(rel)
	if err != nil {
		return err
	}
	for _, d := range t.Dirs {
		err := unix.Mkdirat(fd, d.Name, 0o700)
		if errors.Is(err, unix.EEXIST) && co.opts.Union {
			var st unix.Stat_t
			if err = unix.Fstatat(fd, d.Name, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil && st.Mode&unix.S_IFMT != unix.S_IFDIR {
				err = fmt.Errorf("%s exists and is not a directory: %w", path.Join(rel, d.Name), ErrEscape)
			}
		}
		if err != nil {
			unix.Close(fd)
			return fmt.Errorf("cannot check out %s: %w", filepath.Join(co.dest, rel, d.Name), err)
		}
	}
	unix.Close(fd)
	for _, d := range t.Dirs {
		if err := co.mkdirs(ctx, path.Join(rel, d.Name), d.Tree, d.Meta, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// run walks the tree, making directories and handing each directory's
// files to parallel workers as soon as the directory exists.
func (co *checkouter) run(ctx context.Context, tree, meta object.Checksum) error {
	n := co.opts.Jobs
	if n <= 0 {
		n = runtime.GOMAXPROCS(0) * 2
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	co.jobs = make(chan coFiles, 64)
	co.metas = map[object.Checksum]object.DirMeta{}
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	fail := func(err error) { once.Do(func() { firstErr = err; cancel() }) }
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for job := range co.jobs {
				if ctx.Err() != nil {
					continue // drain
				}
				if err := co.writeJob(ctx, job); err != nil {
					fail(err)
				}
			}
		}()
	}
	if err := co.mkdirs(ctx, "", tree, meta, 0); err != nil {
		fail(err)
	}
	close(co.jobs)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

func (co *checkouter) writeJob(ctx context.Context, job coFiles) error {
	dfd, err := co.openBeneath(job.rel)
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	for _, f := range job.files {
		if err := co.writeFile(ctx, dfd, job.rel, f); err != nil {
			return fmt.Errorf("cannot check out %s: %w", filepath.Join(co.dest, job.rel, f.Name), err)
		}
		d := co.done.Add(1)
		if co.opts.Progress != nil {
			co.opts.Progress(d, co.total.Load())
		}
	}
	return nil
}

// replaceable removes an existing non-directory entry in union mode.
func (co *checkouter) replaceable(dfd int, name string) error {
	if !co.opts.Union {
		return unix.EEXIST
	}
	var st unix.Stat_t
	if err := unix.Fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return fmt.Errorf("a directory is in the way")
	}
	return unix.Unlinkat(dfd, name, 0)
}

func (co *checkouter) writeFile(ctx context.Context, dfd int, rel string, f object.TreeFile) error {
	name := object.ObjectName{Checksum: f.Checksum, Type: object.TypeFile}
	if co.hardlink {
		rel := co.repo.loosePath(name)
		linkable := true
		if co.repo.mode == ModeBareUser {
			// bare-user symlinks are regular files holding the target.
			linkable = !isBareUserSymlink(filepath.Join(co.repo.objectsDir(), rel))
		}
		if linkable {
			err := unix.Linkat(co.objfd, rel, dfd, f.Name, 0)
			if errors.Is(err, unix.EEXIST) {
				if err = co.replaceable(dfd, f.Name); err == nil {
					err = unix.Linkat(co.objfd, rel, dfd, f.Name, 0)
				}
			}
			if err == nil {
				return nil
			}
			if co.opts.RequireHardlinks || !errors.Is(err, unix.EXDEV) && !errors.Is(err, unix.EMLINK) && !errors.Is(err, unix.EPERM) {
				return objErr(name, err)
			}
		}
	}
	h, rc, err := co.repo.OpenContent(ctx, f.Checksum)
	if err != nil {
		return err
	}
	defer rc.Close()
	if h.IsSymlink() {
		err := unix.Symlinkat(h.SymlinkTarget, dfd, f.Name)
		if errors.Is(err, unix.EEXIST) {
			if err = co.replaceable(dfd, f.Name); err == nil {
				err = unix.Symlinkat(h.SymlinkTarget, dfd, f.Name)
			}
		}
		if err != nil {
			return err
		}
		if !co.opts.UserMode {
			if err := unix.Fchownat(dfd, f.Name, int(h.UID), int(h.GID), unix.AT_SYMLINK_NOFOLLOW); err != nil {
				return err
			}
			p := fmt.Sprintf("/proc/self/fd/%d/%s", dfd, f.Name)
			for _, x := range h.Xattrs {
				if err := unix.Lsetxattr(p, x.Name, x.Value, 0); err != nil {
					return fmt.Errorf("setting xattr %s: %w", x.Name, err)
				}
			}
		}
		return nil
	}
	fd, err := unix.Openat(dfd, f.Name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if errors.Is(err, unix.EEXIST) {
		if err = co.replaceable(dfd, f.Name); err == nil {
			fd, err = unix.Openat(dfd, f.Name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		}
	}
	if err != nil {
		return err
	}
	out := os.NewFile(uintptr(fd), f.Name)
	defer out.Close()
	bw := newBufWriter(out)
	defer putBufWriter(bw)
	if _, err := io.Copy(bw, rc); err != nil {
		return objErr(name, err)
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	mode := h.Mode & 0o7777
	if co.opts.UserMode {
		mode &^= 0o6000
	} else {
		if err := unix.Fchown(fd, int(h.UID), int(h.GID)); err != nil {
			return err
		}
		for _, x := range h.Xattrs {
			if err := unix.Fsetxattr(fd, x.Name, x.Value, 0); err != nil {
				return fmt.Errorf("setting xattr %s: %w", x.Name, err)
			}
		}
	}
	return unix.Fchmod(fd, mode)
}

func objErr(n object.ObjectName, err error) error {
	if errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("object %s: %w", n, ErrObjectNotFound)
	}
	return err
}

func isBareUserSymlink(path string) bool {
	buf := make([]byte, 64)
	n, err := unix.Getxattr(path, "user.ostreemeta", buf)
	if err != nil || n < 12 {
		return false
	}
	um, err := object.UnmarshalUserMeta(buf[:n])
	return err == nil && um.Mode&object.ModeTypeMask == object.ModeSymlink
}

func (co *checkouter) applyDirMeta(d coDir) error {
	fd, err := co.openBeneath(d.rel)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	mode := d.meta.Mode & 0o7777
	if co.opts.UserMode {
		mode &^= 0o6000
	} else {
		if err := unix.Fchown(fd, int(d.meta.UID), int(d.meta.GID)); err != nil {
			return fmt.Errorf("cannot check out %s: %w", filepath.Join(co.dest, d.rel), err)
		}
		for _, x := range d.meta.Xattrs {
			if err := unix.Fsetxattr(fd, x.Name, x.Value, 0); err != nil {
				return fmt.Errorf("cannot check out %s: setting xattr %s: %w", filepath.Join(co.dest, d.rel), x.Name, err)
			}
		}
	}
	if err := unix.Fchmod(fd, mode); err != nil {
		return fmt.Errorf("cannot check out %s: %w", filepath.Join(co.dest, d.rel), err)
	}
	return nil
}

// checkoutFile writes one file of a commit to dest.
func checkoutFile(ctx context.Context, repo *Repo, f object.TreeFile, dest string, opts *CheckoutOptions) error {
	parent, err := unix.Open(filepath.Dir(dest), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("cannot check out to %s: %w", dest, err)
	}
	defer unix.Close(parent)
	co := &checkouter{repo: repo, opts: opts, destfd: parent, dest: filepath.Dir(dest)}
	co.hardlink = opts.UserMode && (repo.mode == ModeBareUserOnly || repo.mode == ModeBareUser) ||
		!opts.UserMode && repo.mode == ModeBare
	if opts.RequireHardlinks && !co.hardlink {
		return fmt.Errorf("cannot check out %s with hard links from a %s repository in this mode: %w", dest, repo.mode, ErrUnsupported)
	}
	if co.hardlink {
		if err := repo.Flush(ctx); err != nil {
			return err
		}
		if co.objfd, err = unix.Open(repo.objectsDir(), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
			return err
		}
		defer unix.Close(co.objfd)
	}
	f.Name = filepath.Base(dest)
	if err := co.writeFile(ctx, parent, "", f); err != nil {
		return fmt.Errorf("cannot check out %s: %w", dest, err)
	}
	return nil
}
