package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/porthole-dev/porthole/store/object"
	"golang.org/x/sys/unix"
)

// Signer makes a detached signature over data (the commit object bytes).
// store/sign provides the OpenPGP one.
type Signer interface {
	Sign(ctx context.Context, data []byte) ([]byte, error)
}

// ProgressFunc reports done out of total units (files for commit,
// objects for fsck, entries for checkout). It may be called from several
// goroutines at once and must be cheap; total may grow while walking.
type ProgressFunc func(done, total int64)

// CommitOptions are ostree commit's options.
type CommitOptions struct {
	// Branch is the ref (refs/heads) to move to the new commit; "" moves
	// none.
	Branch  string
	Subject string
	Body    string
	// Timestamp is the commit time; zero means now.
	Timestamp time.Time
	// OwnerUID/OwnerGID override every file's and directory's owner.
	OwnerUID, OwnerGID *uint32
	// NoXattrs drops extended attributes.
	NoXattrs bool
	// NoBindings omits ostree.ref-binding (and ostree.collection-binding).
	NoBindings bool
	// Metadata is added to the commit metadata in this order, before the
	// bindings.
	Metadata object.Metadata
	// Parent overrides the parent; nil means the current head of Branch.
	Parent *object.Checksum
	// NoParent makes a commit without parent (--parent=none).
	NoParent bool
	// CanonicalPermissions: uid/gid 0, modes masked with 0755 (no
	// setuid/setgid/sticky, no group/other write), no xattrs. Always on for
	// bare-user-only repos, as in ostree.
	CanonicalPermissions bool
	// Signer, when set, signs the commit; the signature is stored as
	// ostree.gpgsigs in the detached metadata.
	Signer Signer
	// Progress receives files hashed so far.
	Progress ProgressFunc
	// Jobs is the number of parallel workers; 0 means GOMAXPROCS.
	Jobs int
}

type commitFile struct {
	path string
	name string
	sum  object.Checksum
}

type commitDir struct {
	path  string
	name  string
	meta  object.DirMeta
	files []*commitFile
	dirs  []*commitDir
}

// Commit writes the tree at dir as a new commit and returns its checksum.
// Content is hashed and stored by parallel workers; identical files are
// stored once. Objects are flushed to disk before the branch ref moves.
func Commit(ctx context.Context, repo *Repo, dir string, opts CommitOptions) (object.Checksum, error) {
	var zero object.Checksum
	if opts.Branch != "" {
		if err := object.ValidateRef(opts.Branch); err != nil {
			return zero, err
		}
	}
	if repo.mode == ModeBareUserOnly {
		opts.CanonicalPermissions = true
	}
	if repo.mode == ModeBare && os.Geteuid() != 0 {
		return zero, fmt.Errorf("cannot commit to a bare repository without root: %w", ErrUnsupported)
	}
	unlock, err := repo.Lock(ctx, false)
	if err != nil {
		return zero, err
	}
	defer unlock()

	c := &committer{repo: repo, opts: &opts}
	root, err := c.scanDir(dir, "")
	if err != nil {
		return zero, err
	}
	if err := c.storeFiles(ctx); err != nil {
		return zero, err
	}
	treeSum, metaSum, err := c.writeTrees(ctx, root)
	if err != nil {
		return zero, err
	}

	cm := object.Commit{Subject: opts.Subject, Body: opts.Body, RootTree: treeSum, RootMeta: metaSum}
	ts := opts.Timestamp
	if ts.IsZero() {
		ts = time.Now()
	}
	cm.Timestamp = uint64(ts.Unix())
	switch {
	case opts.NoParent:
	case opts.Parent != nil:
		p := *opts.Parent
		cm.Parent = &p
	case opts.Branch != "":
		if p, err := readRefFile(filepath.Join(repo.dir, "refs", "heads", opts.Branch)); err == nil {
			cm.Parent = &p
		} else if !errors.Is(err, fs.ErrNotExist) {
			return zero, err
		}
	}
	for _, e := range opts.Metadata {
		cm.Metadata.Set(e)
	}
	if !opts.NoBindings && opts.Branch != "" {
		e := object.StringsValue([]string{opts.Branch})
		e.Key = "ostree.ref-binding"
		cm.Metadata.Set(e)
		if cid, ok := repo.ConfigValue("core", "collection-id"); ok && cid != "" {
			e := object.StringValue(cid)
			e.Key = "ostree.collection-binding"
			cm.Metadata.Set(e)
		}
	}
	data := cm.Marshal()
	sum, err := repo.WriteMetadata(ctx, object.TypeCommit, data, nil)
	if err != nil {
		return zero, err
	}
	if opts.Signer != nil {
		sig, err := opts.Signer.Sign(ctx, data)
		if err != nil {
			return zero, fmt.Errorf("signing commit %s: %w", sum, err)
		}
		e := object.ByteArraysValue([][]byte{sig})
		e.Key = "ostree.gpgsigs"
		if err := repo.WriteCommitMeta(ctx, sum, object.Metadata{e}.Marshal()); err != nil {
			return zero, err
		}
	}
	if err := repo.Flush(ctx); err != nil {
		return zero, err
	}
	if opts.Branch != "" {
		if err := repo.SetRef(ctx, "", opts.Branch, &sum); err != nil {
			return zero, err
		}
	}
	return sum, nil
}

type committer struct {
	repo  *Repo
	opts  *CommitOptions
	files []*commitFile
	total atomic.Int64
	done  atomic.Int64
}

func (c *committer) owner(uid, gid uint32) (uint32, uint32) {
	if c.opts.CanonicalPermissions {
		return 0, 0
	}
	if c.opts.OwnerUID != nil {
		uid = *c.opts.OwnerUID
	}
	if c.opts.OwnerGID != nil {
		gid = *c.opts.OwnerGID
	}
	return uid, gid
}

func (c *committer) xattrs(path string) ([]object.Xattr, error) {
	if c.opts.NoXattrs || c.opts.CanonicalPermissions {
		return nil, nil
	}
	return listXattrs(path, true)
}

// scanDir reads one directory level recursively; files are hashed later by
// the workers.
func (c *committer) scanDir(path, name string) (*commitDir, error) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return nil, fmt.Errorf("cannot commit %s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return nil, fmt.Errorf("cannot commit %s: not a directory", path)
	}
	d := &commitDir{path: path, name: name}
	uid, gid := c.owner(st.Uid, st.Gid)
	mode := st.Mode
	if c.opts.CanonicalPermissions {
		mode &= object.ModeTypeMask | 0o755
	}
	xs, err := c.xattrs(path)
	if err != nil {
		return nil, err
	}
	d.meta = object.DirMeta{UID: uid, GID: gid, Mode: mode, Xattrs: xs}
	ents, err := os.ReadDir(path)
	if err != nil {
		return nil, fmt.Errorf("cannot commit %s: %w", path, err)
	}
	for _, e := range ents {
		if err := object.ValidateFilename(e.Name()); err != nil {
			return nil, fmt.Errorf("cannot commit %s: %w", filepath.Join(path, e.Name()), err)
		}
		p := filepath.Join(path, e.Name())
		switch e.Type() & fs.ModeType {
		case fs.ModeDir:
			sub, err := c.scanDir(p, e.Name())
			if err != nil {
				return nil, err
			}
			d.dirs = append(d.dirs, sub)
		case 0, fs.ModeSymlink:
			f := &commitFile{path: p, name: e.Name()}
			d.files = append(d.files, f)
			c.files = append(c.files, f)
			c.total.Add(1)
		default:
			return nil, fmt.Errorf("cannot commit %s: unsupported file type", p)
		}
	}
	return d, nil
}

// smallFile is the size up to which a file is read into memory once
// (hash, then store if new); larger files are read twice.
const smallFile = 4 << 20

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 256<<10); return &b }}

func (c *committer) storeFiles(ctx context.Context) error {
	jobs := c.opts.Jobs
	if jobs <= 0 {
		jobs = runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := atomic.Int64{}
	var wg sync.WaitGroup
	var errOnce sync.Once
	var firstErr error
	for range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(c.files) || ctx.Err() != nil {
					return
				}
				if err := c.storeFile(ctx, c.files[i]); err != nil {
					errOnce.Do(func() { firstErr = err; cancel() })
					return
				}
				d := c.done.Add(1)
				if c.opts.Progress != nil {
					c.opts.Progress(d, c.total.Load())
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

func (c *committer) storeFile(ctx context.Context, f *commitFile) error {
	fd, err := unix.Open(f.path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
	if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.EMLINK) {
		return c.storeSymlink(ctx, f)
	}
	if err != nil {
		return fmt.Errorf("cannot commit %s: %w", f.path, err)
	}
	file := &rawFile{fd: fd, name: f.path}
	defer file.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("cannot commit %s: %w", f.path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fmt.Errorf("cannot commit %s: unsupported file type", f.path)
	}
	h := object.FileHeader{Mode: st.Mode, Size: uint64(st.Size)}
	h.UID, h.GID = c.owner(st.Uid, st.Gid)
	if c.opts.CanonicalPermissions {
		h.Mode = st.Mode & (object.ModeTypeMask | 0o755)
	}
	if !c.opts.NoXattrs && !c.opts.CanonicalPermissions {
		if h.Xattrs, err = listXattrs(f.path, true); err != nil {
			return err
		}
	}
	if st.Size <= smallFile {
		bp := bufPool.Get().(*[]byte)
		defer bufPool.Put(bp)
		buf := (*bp)[:0]
		if cap(buf) < int(st.Size)+1 {
			buf = make([]byte, 0, int(st.Size)+1)
		}
		buf, err = readAllInto(file, buf)
		if err != nil {
			return fmt.Errorf("cannot commit %s: %w", f.path, err)
		}
		*bp = buf
		if uint64(len(buf)) != h.Size {
			return fmt.Errorf("cannot commit %s: file changed while reading", f.path)
		}
		ch := object.NewContentHasher(&h)
		ch.Write(buf)
		f.sum = ch.Sum()
		return c.store(ctx, f, &h, bytes.NewReader(buf))
	}
	if f.sum, err = object.ContentChecksum(&h, file); err != nil {
		return fmt.Errorf("cannot commit %s: %w", f.path, err)
	}
	if _, err := file.Seek(0, io.SeekStart); err != nil {
		return err
	}
	return c.store(ctx, f, &h, file)
}

func readAllInto(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

func (c *committer) storeSymlink(ctx context.Context, f *commitFile) error {
	var st unix.Stat_t
	if err := unix.Lstat(f.path, &st); err != nil {
		return fmt.Errorf("cannot commit %s: %w", f.path, err)
	}
	target, err := os.Readlink(f.path)
	if err != nil {
		return fmt.Errorf("cannot commit %s: %w", f.path, err)
	}
	h := object.FileHeader{Mode: object.ModeSymlink | 0o777, SymlinkTarget: target}
	h.UID, h.GID = c.owner(st.Uid, st.Gid)
	if h.Xattrs, err = c.xattrs(f.path); err != nil {
		return err
	}
	if f.sum, err = object.ContentChecksum(&h, nil); err != nil {
		return err
	}
	return c.store(ctx, f, &h, nil)
}

// store writes the object unless it exists; the checksum was computed from
// the same bytes, so a mismatch means the file changed under us.
func (c *committer) store(ctx context.Context, f *commitFile, h *object.FileHeader, content io.Reader) error {
	if ok, err := c.repo.HasObject(ctx, object.ObjectName{Checksum: f.sum, Type: object.TypeFile}); err != nil || ok {
		return err
	}
	if err := h.Validate(); err != nil {
		return fmt.Errorf("cannot commit %s: %w", f.path, err)
	}
	want := f.sum
	if _, err := c.repo.writeContent(ctx, h, content, &want); err != nil {
		var mm *ChecksumMismatchError
		if errors.As(err, &mm) {
			return fmt.Errorf("cannot commit %s: file changed while reading", f.path)
		}
		return fmt.Errorf("cannot commit %s: %w", f.path, err)
	}
	return nil
}

// writeTrees writes dirmeta and dirtree objects bottom-up.
func (c *committer) writeTrees(ctx context.Context, d *commitDir) (tree, meta object.Checksum, err error) {
	var t object.DirTree
	for _, f := range d.files {
		t.Files = append(t.Files, object.TreeFile{Name: f.name, Checksum: f.sum})
	}
	for _, sub := range d.dirs {
		st, sm, err := c.writeTrees(ctx, sub)
		if err != nil {
			return tree, meta, err
		}
		t.Dirs = append(t.Dirs, object.TreeDir{Name: sub.name, Tree: st, Meta: sm})
	}
	if err := d.meta.Validate(); err != nil {
		return tree, meta, fmt.Errorf("cannot commit %s: %w", d.path, err)
	}
	if meta, err = c.repo.WriteMetadata(ctx, object.TypeDirMeta, d.meta.Marshal(), nil); err != nil {
		return tree, meta, err
	}
	if tree, err = c.repo.WriteMetadata(ctx, object.TypeDirTree, t.Marshal(), nil); err != nil {
		return tree, meta, err
	}
	return tree, meta, nil
}
