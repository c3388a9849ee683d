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
	"strings"

	"github.com/porthole-dev/porthole/store/object"
	"golang.org/x/sys/unix"
)

// Object writes are staged: each object is written to a file in the Repo's
// private staging directory tmp/staging-XXXX, its checksum is verified, and
// only then is it recorded as pending. Pending objects are visible to this
// Repo (HasObject, reads) at once. Flush makes them durable with one
// syncfs and renames them into objects/XX/, so an object never appears
// under objects/ before its bytes are on disk, and a crash (even kill -9)
// leaves at most stray files under tmp/. SetRef flushes first, so a ref
// never points at objects that are not in place. While objects are staged
// the Repo holds the shared repository lock, which keeps prune away.

// maxPending triggers an automatic Flush so staging directories stay small.
const maxPending = 50000

func (r *Repo) objectsDir() string { return filepath.Join(r.dir, "objects") }

func (r *Repo) isArchive() bool { return r.mode == ModeArchive }

func (r *Repo) loosePath(n object.ObjectName) string {
	return n.LoosePath(r.isArchive())
}

// objectPath returns where the object currently is (staged or loose).
func (r *Repo) objectPath(n object.ObjectName) string {
	lp := r.loosePath(n)
	r.stMu.Lock()
	p, ok := r.pending[lp]
	r.stMu.Unlock()
	if ok {
		return p
	}
	return filepath.Join(r.objectsDir(), lp)
}

// HasObject reports whether the object is stored (or staged by this Repo).
func (r *Repo) HasObject(ctx context.Context, n object.ObjectName) (bool, error) {
	lp := r.loosePath(n)
	r.stMu.Lock()
	p, staged := r.pending[lp]
	r.stMu.Unlock()
	loose := filepath.Join(r.objectsDir(), lp)
	if !staged {
		p = loose
	}
	var st unix.Stat_t
	err := unix.Lstat(p, &st)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, unix.ENOENT) {
		// A staged object may have been flushed between lookup and stat.
		if staged && unix.Lstat(loose, &st) == nil {
			return true, nil
		}
		return false, nil
	}
	return false, &pathError{op: "lstat", path: p, err: err}
}

// openObject opens an object file with O_NOFOLLOW (symlink objects need
// lstat/readlink instead), retrying once if a flush moved it.
func (r *Repo) openObject(n object.ObjectName) (*rawFile, error) {
	f, err := openRaw(r.objectPath(n), unix.O_RDONLY|unix.O_NOFOLLOW, 0)
	if errors.Is(err, fs.ErrNotExist) {
		f, err = openRaw(filepath.Join(r.objectsDir(), r.loosePath(n)), unix.O_RDONLY|unix.O_NOFOLLOW, 0)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("object %s: %w", n, ErrObjectNotFound)
	}
	return f, err
}

// maxMetadataSize bounds metadata objects read into memory (ostree: 10 MiB
// for most; we allow more for huge dirtrees).
const maxMetadataSize = 128 << 20

// ReadMetadata returns the bytes of a dirtree, dirmeta or commit object
// (or a tombstone). The bytes are not re-verified; use the object package
// to parse them and Fsck to verify.
func (r *Repo) ReadMetadata(ctx context.Context, t object.ObjectType, c object.Checksum) ([]byte, error) {
	if !t.IsMeta() || t == object.TypeCommitMeta {
		return nil, fmt.Errorf("ReadMetadata: %s is not a metadata object type", t)
	}
	f, err := r.openObject(object.ObjectName{Checksum: c, Type: t})
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxMetadataSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s.%s: %w", c, t, err)
	}
	if len(data) > maxMetadataSize {
		return nil, fmt.Errorf("reading %s.%s: %w: too large", c, t, ErrCorrupt)
	}
	return data, nil
}

// ValidateMetadata parses data strictly as an object of type t.
func ValidateMetadata(t object.ObjectType, data []byte) error {
	var err error
	switch t {
	case object.TypeDirTree:
		_, err = object.UnmarshalDirTree(data)
	case object.TypeDirMeta:
		_, err = object.UnmarshalDirMeta(data)
	case object.TypeCommit:
		_, err = object.UnmarshalCommit(data)
	case object.TypeTombstoneCommit, object.TypeCommitMeta:
		_, err = object.UnmarshalMetadata(data)
	default:
		err = fmt.Errorf("%w: %s is not a metadata type", object.ErrInvalid, t)
	}
	return err
}

// WriteMetadata stores a dirtree, dirmeta, commit or tombstone object after
// validating it strictly; when want is given the data must hash to it.
// Writing an object that exists is a no-op.
func (r *Repo) WriteMetadata(ctx context.Context, t object.ObjectType, data []byte, want *object.Checksum) (object.Checksum, error) {
	c := object.Sum(data)
	name := object.ObjectName{Checksum: c, Type: t}
	if want != nil && *want != c {
		return c, &ChecksumMismatchError{Object: object.ObjectName{Checksum: *want, Type: t}, Got: c}
	}
	if t == object.TypeCommitMeta || !t.IsMeta() {
		return c, fmt.Errorf("WriteMetadata: cannot write %s objects", t)
	}
	if err := ValidateMetadata(t, data); err != nil {
		return c, &corruptError{name, err}
	}
	if ok, err := r.HasObject(ctx, name); err != nil || ok {
		return c, err
	}
	f, err := r.stageFile(ctx)
	if err != nil {
		return c, err
	}
	_, err = f.Write(data)
	if err == nil {
		err = unix.Fchmod(f.fd, 0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.name)
		return c, fmt.Errorf("writing %s: %w", name, err)
	}
	return c, r.addPending(ctx, name, f.name)
}

// stageFile creates a new file in the staging directory.
func (r *Repo) stageFile(ctx context.Context) (*rawFile, error) {
	path, err := r.stagePath(ctx)
	if err != nil {
		return nil, err
	}
	return openRaw(path, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL, 0o600)
}

// stagePath returns a fresh path in the Repo's staging directory (see
// staging.go), taking the shared repository lock first (held until Flush)
// so prune waits for the objects to be in place.
func (r *Repo) stagePath(ctx context.Context) (string, error) {
	r.stMu.Lock()
	if r.stUnlock == nil {
		unlock, err := r.Lock(ctx, false)
		if err != nil {
			r.stMu.Unlock()
			return "", err
		}
		r.stUnlock = unlock
	}
	if r.staging == nil {
		h, err := newStagingDir(r.dir)
		if err != nil {
			r.stMu.Unlock()
			return "", err
		}
		r.staging = h
	}
	h := r.staging
	r.stMu.Unlock()
	return h.newPath()
}

// addPending records a verified staged file as the object name.
func (r *Repo) addPending(ctx context.Context, n object.ObjectName, path string) error {
	r.stMu.Lock()
	lp := r.loosePath(n)
	if _, dup := r.pending[lp]; dup {
		r.stMu.Unlock()
		os.Remove(path)
		return nil
	}
	r.pending[lp] = path
	r.pendingN++
	full := r.pendingN >= maxPending
	r.stMu.Unlock()
	if full {
		return r.Flush(ctx)
	}
	return nil
}

// Flush makes every staged object durable and moves it into objects/:
// one syncfs, renames, and a second syncfs for the directory entries. It
// then releases the shared lock taken for staging.
func (r *Repo) Flush(ctx context.Context) error {
	r.stMu.Lock()
	defer r.stMu.Unlock()
	if len(r.pending) == 0 {
		if r.stUnlock != nil {
			r.stUnlock()
			r.stUnlock = nil
		}
		return nil
	}
	if err := r.sync(); err != nil {
		return fmt.Errorf("cannot sync repository: %w", err)
	}
	made := map[string]bool{}
	for k, p := range r.pending {
		dst := filepath.Join(r.objectsDir(), k)
		if sub := filepath.Dir(dst); !made[sub] {
			if err := os.Mkdir(sub, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("cannot create %s: %w", sub, err)
			}
			made[sub] = true
		}
		if err := os.Rename(p, dst); err != nil {
			return fmt.Errorf("cannot move object %s into place: %w", k, err)
		}
		delete(r.pending, k)
	}
	r.pendingN = 0
	if err := r.sync(); err != nil {
		return fmt.Errorf("cannot sync repository: %w", err)
	}
	if r.stUnlock != nil {
		r.stUnlock()
		r.stUnlock = nil
	}
	if !r.cleaned {
		r.cleaned = true
		own := ""
		if r.staging != nil {
			own = r.staging.path
		}
		cleanStaleStaging(r.dir, own)
	}
	return nil
}

// sync is syncfs(2) on the repository's filesystem, skipped when the
// config says [core] fsync=false (as ostree honours it).
func (r *Repo) sync() error {
	if v, ok := r.ConfigValue("core", "fsync"); ok && v == "false" {
		return nil
	}
	return syncFS(r.dir)
}

func syncFS(dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Syncfs(fd)
}

// DeleteObject removes a loose object (used by fsck --delete and prune).
// Deleting a missing object is not an error.
func (r *Repo) DeleteObject(ctx context.Context, n object.ObjectName) error {
	err := os.Remove(filepath.Join(r.objectsDir(), r.loosePath(n)))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("deleting %s: %w", n, err)
	}
	return nil
}

// ListObjects calls fn for every loose object (commitmeta included), in no
// particular order. Files that are not object names are skipped.
func (r *Repo) ListObjects(ctx context.Context, fn func(object.ObjectName) error) error {
	subs, err := os.ReadDir(r.objectsDir())
	if err != nil {
		return fmt.Errorf("listing objects: %w", err)
	}
	for _, sub := range subs {
		if len(sub.Name()) != 2 || !sub.IsDir() {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		ents, err := os.ReadDir(filepath.Join(r.objectsDir(), sub.Name()))
		if err != nil {
			return fmt.Errorf("listing objects: %w", err)
		}
		for _, e := range ents {
			n, err := object.ParseObjectName(sub.Name() + e.Name())
			if err != nil || (n.Type == object.TypeFile && strings.HasSuffix(e.Name(), ".filez") != r.isArchive()) {
				continue
			}
			if err := fn(n); err != nil {
				return err
			}
		}
	}
	return nil
}

// ReadCommitMeta returns the detached metadata ("a{sv}") of a commit, or
// an error wrapping ErrObjectNotFound when it has none.
func (r *Repo) ReadCommitMeta(ctx context.Context, commit object.Checksum) ([]byte, error) {
	n := object.ObjectName{Checksum: commit, Type: object.TypeCommitMeta}
	data, err := os.ReadFile(filepath.Join(r.objectsDir(), r.loosePath(n)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("detached metadata of %s: %w", commit, ErrObjectNotFound)
	}
	return data, err
}

// WriteCommitMeta replaces the detached metadata of a commit; data must be
// a valid "a{sv}". nil data deletes it.
func (r *Repo) WriteCommitMeta(ctx context.Context, commit object.Checksum, data []byte) error {
	n := object.ObjectName{Checksum: commit, Type: object.TypeCommitMeta}
	path := filepath.Join(r.objectsDir(), r.loosePath(n))
	if data == nil {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	if _, err := object.UnmarshalMetadata(data); err != nil {
		return fmt.Errorf("writing detached metadata of %s: %w", commit, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := writeFileAtomic(path, data, 0o644); err != nil {
		return fmt.Errorf("writing detached metadata of %s: %w", commit, err)
	}
	return nil
}

// stagedContent writes one content object in the repo's mode to a staged
// file and returns its checksum; it never publishes it.
func (r *Repo) stageContent(ctx context.Context, h *object.FileHeader, content io.Reader) (path string, sum object.Checksum, err error) {
	path, err = r.stagePath(ctx)
	if err != nil {
		return "", sum, err
	}
	defer func() {
		if err != nil {
			os.Remove(path)
		}
	}()
	hasher := object.NewContentHasher(h)
	if h.IsSymlink() {
		switch r.mode {
		case ModeBare, ModeBareUserOnly:
			if err := os.Symlink(h.SymlinkTarget, path); err != nil {
				return "", sum, err
			}
			if r.mode == ModeBare {
				if err := os.Lchown(path, int(h.UID), int(h.GID)); err != nil {
					return "", sum, err
				}
				for _, x := range h.Xattrs {
					if err := unix.Lsetxattr(path, x.Name, x.Value, 0); err != nil {
						return "", sum, fmt.Errorf("setting xattr %s: %w", x.Name, err)
					}
				}
				unix.UtimesNanoAt(unix.AT_FDCWD, path, []unix.Timespec{{}, {}}, unix.AT_SYMLINK_NOFOLLOW)
			}
			return path, hasher.Sum(), nil
		}
	}
	f, err := openRaw(path, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL, 0o600)
	if err != nil {
		return "", sum, err
	}
	defer f.Close()
	bw := newBufWriter(f)
	defer putBufWriter(bw)
	if content == nil {
		content = bytes.NewReader(nil)
	}
	var n int64
	switch {
	case r.mode == ModeArchive:
		if err := object.WriteFilez(bw, h, io.TeeReader(content, hasher), r.compressionLevel()); err != nil {
			return "", sum, err
		}
	case h.IsSymlink(): // bare-user: target plus NUL in a regular file
		if _, err := bw.Write(append([]byte(h.SymlinkTarget), 0)); err != nil {
			return "", sum, err
		}
	default:
		if n, err = io.Copy(bw, io.TeeReader(content, hasher)); err != nil {
			return "", sum, err
		}
		if uint64(n) != h.Size {
			return "", sum, fmt.Errorf("content is %d bytes, header says %d", n, h.Size)
		}
	}
	if err := bw.Flush(); err != nil {
		return "", sum, err
	}
	fd := f.fd
	switch r.mode {
	case ModeArchive:
		err = unix.Fchmod(fd, 0o644)
	case ModeBareUser:
		perm := uint32(0o644)
		if h.IsRegular() {
			perm = h.Mode&0o775 | 0o400
		}
		meta := object.UserMeta{UID: h.UID, GID: h.GID, Mode: h.Mode, Xattrs: h.Xattrs}
		err = unix.Fsetxattr(fd, "user.ostreemeta", meta.Marshal(), 0)
		if err == nil {
			err = unix.Fchmod(fd, perm)
		}
	case ModeBareUserOnly:
		err = unix.Fchmod(fd, h.Mode&0o7777)
	case ModeBare:
		err = unix.Fchown(fd, int(h.UID), int(h.GID))
		for _, x := range h.Xattrs {
			if err == nil {
				err = unix.Fsetxattr(fd, x.Name, x.Value, 0)
			}
		}
		if err == nil {
			err = unix.Fchmod(fd, h.Mode&0o7777)
		}
	}
	if err != nil {
		return "", sum, fmt.Errorf("cannot store content object: %w", err)
	}
	if r.mode != ModeArchive {
		if err := unix.Futimes(fd, []unix.Timeval{{}, {}}); err != nil {
			return "", sum, err
		}
	}
	return path, hasher.Sum(), nil
}

func (r *Repo) compressionLevel() int {
	if v, ok := r.ConfigValue("archive", "zlib-level"); ok {
		var l int
		if _, err := fmt.Sscanf(v, "%d", &l); err == nil && l >= 0 && l <= 9 {
			return l
		}
	}
	return object.DefaultCompressionLevel
}

// WriteContent stores the content object (hdr, content) in the repo's
// mode. hdr.Size must be the content length for regular files; content is
// ignored for symlinks. The object becomes visible only after its checksum
// is verified against want (when given). If want names an object already
// stored, content is not read.
func (r *Repo) WriteContent(ctx context.Context, hdr object.FileHeader, content io.Reader, want *object.Checksum) (object.Checksum, error) {
	if err := hdr.Validate(); err != nil {
		return object.Checksum{}, err
	}
	if want != nil {
		if ok, err := r.HasObject(ctx, object.ObjectName{Checksum: *want, Type: object.TypeFile}); err != nil || ok {
			return *want, err
		}
	}
	return r.writeContent(ctx, &hdr, content, want)
}

// writeContent stages the object without first checking whether it
// exists (callers did).
func (r *Repo) writeContent(ctx context.Context, hdr *object.FileHeader, content io.Reader, want *object.Checksum) (object.Checksum, error) {
	if hdr.IsSymlink() {
		content = nil
	}
	if r.mode == ModeBareUserOnly && hdr.IsRegular() && hdr.Mode&^(object.ModeTypeMask|0o775) != 0 {
		return object.Checksum{}, &InvalidModeError{Object: want, Mode: hdr.Mode}
	}
	path, sum, err := r.stageContent(ctx, hdr, content)
	if err != nil {
		return sum, fmt.Errorf("writing content object: %w", err)
	}
	name := object.ObjectName{Checksum: sum, Type: object.TypeFile}
	if want != nil && *want != sum {
		os.Remove(path)
		return sum, &ChecksumMismatchError{Object: object.ObjectName{Checksum: *want, Type: object.TypeFile}, Got: sum}
	}
	if want == nil {
		if ok, _ := r.HasObject(ctx, name); ok {
			os.Remove(path)
			return sum, nil
		}
	}
	return sum, r.addPending(ctx, name, path)
}

// WriteArchivedContent stores a .filez stream (as an archive repo serves
// it) after verifying it against want. Archive repos keep the received
// bytes as they are; other modes unpack them.
func (r *Repo) WriteArchivedContent(ctx context.Context, filez io.Reader, want object.Checksum) error {
	name := object.ObjectName{Checksum: want, Type: object.TypeFile}
	if ok, err := r.HasObject(ctx, name); err != nil || ok {
		return err
	}
	if !r.isArchive() {
		h, rc, err := object.ReadFilez(filez)
		if err != nil {
			return &corruptError{name, err}
		}
		defer rc.Close()
		_, err = r.WriteContent(ctx, h, rc, &want)
		if err != nil && errors.Is(err, object.ErrInvalid) {
			return &corruptError{name, err}
		}
		return err
	}
	f, err := r.stageFile(ctx)
	if err != nil {
		return err
	}
	path := f.name
	fail := func(err error) error {
		f.Close()
		os.Remove(path)
		return err
	}
	h, rc, err := object.ReadFilez(io.TeeReader(filez, f))
	if err != nil {
		return fail(&corruptError{name, err})
	}
	hasher := object.NewContentHasher(&h)
	if _, err := io.Copy(hasher, rc); err != nil {
		return fail(&corruptError{name, err})
	}
	rc.Close()
	if got := hasher.Sum(); got != want {
		return fail(&ChecksumMismatchError{Object: name, Got: got})
	}
	if err := unix.Fchmod(f.fd, 0o644); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		return fail(err)
	}
	return r.addPending(ctx, name, path)
}

// OpenContent returns the header and content of a content object. For
// symlinks the reader is empty. The caller closes the reader. The data is
// not verified against the checksum here (Fsck does that).
func (r *Repo) OpenContent(ctx context.Context, c object.Checksum) (object.FileHeader, io.ReadCloser, error) {
	n := object.ObjectName{Checksum: c, Type: object.TypeFile}
	var h object.FileHeader
	if r.mode == ModeBare || r.mode == ModeBareUserOnly {
		p := r.objectPath(n)
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			p = filepath.Join(r.objectsDir(), r.loosePath(n))
			fi, err = os.Lstat(p)
		}
		if errors.Is(err, fs.ErrNotExist) {
			return h, nil, fmt.Errorf("object %s: %w", n, ErrObjectNotFound)
		}
		if err != nil {
			return h, nil, err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			target, err := os.Readlink(p)
			if err != nil {
				return h, nil, err
			}
			h.Mode = object.ModeSymlink | 0o777
			h.SymlinkTarget = target
			if r.mode == ModeBare {
				h.UID, h.GID = statOwner(fi)
				if h.Xattrs, err = listXattrs(p, true); err != nil {
					return h, nil, err
				}
			}
			return h, io.NopCloser(bytes.NewReader(nil)), nil
		}
	}
	f, err := r.openObject(n)
	if err != nil {
		return h, nil, err
	}
	switch r.mode {
	case ModeArchive:
		h, rc, err := object.ReadFilez(f)
		if err != nil {
			f.Close()
			return h, nil, &corruptError{n, err}
		}
		return h, &closeBoth{rc, f}, nil
	case ModeBareUser:
		buf := make([]byte, 4096)
		sz, err := unix.Fgetxattr(f.fd, "user.ostreemeta", buf)
		if err != nil {
			f.Close()
			return h, nil, &corruptError{n, fmt.Errorf("reading user.ostreemeta: %w", err)}
		}
		um, err := object.UnmarshalUserMeta(buf[:sz])
		if err != nil {
			f.Close()
			return h, nil, &corruptError{n, err}
		}
		h = object.FileHeader{UID: um.UID, GID: um.GID, Mode: um.Mode, Xattrs: um.Xattrs}
		if h.IsSymlink() {
			data, err := io.ReadAll(io.LimitReader(f, 1<<20))
			f.Close()
			if err != nil {
				return h, nil, err
			}
			if len(data) == 0 || data[len(data)-1] != 0 {
				return h, nil, &corruptError{n, fmt.Errorf("%w: symlink target not NUL-terminated", object.ErrInvalid)}
			}
			h.SymlinkTarget = string(data[:len(data)-1])
			return h, io.NopCloser(bytes.NewReader(nil)), nil
		}
	default:
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return h, nil, err
		}
		if st.Mode&unix.S_IFMT != unix.S_IFREG {
			f.Close()
			return h, nil, &corruptError{n, fmt.Errorf("%w: object is not a regular file", object.ErrInvalid)}
		}
		h.Mode = object.ModeRegular | st.Mode&0o7777
		if r.mode == ModeBare {
			h.UID, h.GID = st.Uid, st.Gid
			if h.Xattrs, err = listXattrs(f.name, false); err != nil {
				f.Close()
				return h, nil, err
			}
		}
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return h, nil, err
	}
	h.Size = uint64(st.Size)
	return h, f, nil
}

func statOwner(fi fs.FileInfo) (uint32, uint32) {
	if st, ok := fi.Sys().(*unix.Stat_t); ok {
		return st.Uid, st.Gid
	}
	return 0, 0
}

// ReadArchivedContent returns the object as a .filez stream: the stored
// file in archive repos, an on-the-fly encoding elsewhere.
func (r *Repo) ReadArchivedContent(ctx context.Context, c object.Checksum) (io.ReadCloser, error) {
	n := object.ObjectName{Checksum: c, Type: object.TypeFile}
	if r.isArchive() {
		return r.openObject(n)
	}
	h, rc, err := r.OpenContent(ctx, c)
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	go func() {
		err := object.WriteFilez(pw, &h, rc, r.compressionLevel())
		rc.Close()
		pw.CloseWithError(err)
	}()
	return pr, nil
}

type closeBoth struct {
	io.ReadCloser
	f io.Closer
}

func (c *closeBoth) Close() error {
	c.ReadCloser.Close()
	return c.f.Close()
}
