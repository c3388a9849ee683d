package documentportal

import (
	"context"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

func procFD(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// physNode is a real file or directory shown in a document: the main
// file or a temporary file of a file document, or anything inside a
// directory document. It holds an O_PATH fd to its backing inode, closed
// when the kernel forgets the node.
type physNode struct {
	fs.Inode
	dom      *domain
	fd       int
	dev, ino uint64
	mode     uint32
	once     sync.Once // closes fd
	diedAt   time.Time // set while in the grave (under FS.mu)
}

var (
	_ fs.NodeGetattrer     = (*physNode)(nil)
	_ fs.NodeSetattrer     = (*physNode)(nil)
	_ fs.NodeOpener        = (*physNode)(nil)
	_ fs.NodeLookuper      = (*physNode)(nil)
	_ fs.NodeReaddirer     = (*physNode)(nil)
	_ fs.NodeCreater       = (*physNode)(nil)
	_ fs.NodeMkdirer       = (*physNode)(nil)
	_ fs.NodeMknoder       = (*physNode)(nil)
	_ fs.NodeUnlinker      = (*physNode)(nil)
	_ fs.NodeRmdirer       = (*physNode)(nil)
	_ fs.NodeRenamer       = (*physNode)(nil)
	_ fs.NodeSymlinker     = (*physNode)(nil)
	_ fs.NodeLinker        = (*physNode)(nil)
	_ fs.NodeReadlinker    = (*physNode)(nil)
	_ fs.NodeAccesser      = (*physNode)(nil)
	_ fs.NodeGetxattrer    = (*physNode)(nil)
	_ fs.NodeSetxattrer    = (*physNode)(nil)
	_ fs.NodeRemovexattrer = (*physNode)(nil)
	_ fs.NodeListxattrer   = (*physNode)(nil)
	_ fs.NodeStatfser      = (*physNode)(nil)
	_ fs.NodeOnForgetter   = (*physNode)(nil)
)

// newPhys makes (or finds) the node for the O_PATH fd in d, taking
// ownership of fd. File documents show regular files only. go-fuse keeps
// the node it already knows for an inode number, so the node for a
// number is looked up here first (one O_PATH fd per node, closed when
// the kernel forgets it); the kernel is then asked to drop the new dentry
// soon, as upstream does, so nodes and their fds do not pile up.
func (f *FS) newPhys(ctx context.Context, parent *fs.Inode, name string, d *domain, fd int, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	var st unix.Stat_t
	if err := unix.Fstatat(fd, "", &st, unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW); err != nil {
		unix.Close(fd)
		return nil, fs.ToErrno(err)
	}
	if !d.isDir && st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return nil, syscall.ENOENT
	}
	ino := physIno(st.Dev, st.Ino, d.doc, d.app)
	f.mu.Lock()
	n := f.byIno[ino]
	if n == nil {
		// A node the kernel just forgot comes back to life: go-fuse may
		// still hand it out.
		if g := f.grave[ino]; g != nil && g.dom == d {
			n = g
			delete(f.grave, ino)
			n.diedAt = time.Time{}
			f.byIno[ino] = n
		}
	}
	if n != nil && n.dom == d {
		f.mu.Unlock()
		unix.Close(fd)
	} else {
		n = &physNode{dom: d, fd: fd, dev: st.Dev, ino: st.Ino, mode: st.Mode & unix.S_IFMT}
		f.byIno[ino] = n
		f.mu.Unlock()
	}
	ch := parent.NewInode(ctx, n, fs.StableAttr{Mode: n.mode, Ino: ino})
	n.fillAttr(&st, &out.Attr, ino)
	f.queueInval(parent, name)
	return ch, 0
}

// OnForget moves the node to the grave: its fd is closed by the reaper a
// little later, unless the node was handed out again meanwhile (a lookup
// racing with the kernel's FORGET).
func (n *physNode) OnForget() {
	f := n.dom.fs
	ino := physIno(n.dev, n.ino, n.dom.doc, n.dom.app)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.byIno[ino] == n {
		delete(f.byIno, ino)
	}
	n.diedAt = time.Now()
	if old := f.grave[ino]; old != nil && old != n {
		f.buried = append(f.buried, old)
	}
	f.grave[ino] = n
}

// reap closes the fds of nodes forgotten for a while, or revives them
// when go-fuse uses them again. final closes everything (at unmount).
func (f *FS) reap(final bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cutoff := time.Now().Add(-2 * time.Second)
	check := func(n *physNode) (done bool) {
		if !final && n.diedAt.After(cutoff) {
			return false
		}
		ino := physIno(n.dev, n.ino, n.dom.doc, n.dom.app)
		//lint:ignore SA1019 OnForget tells us a node was dropped; only Forgotten tells us it came back.
		if !final && !n.Forgotten() {
			if f.byIno[ino] == nil {
				f.byIno[ino] = n
				n.diedAt = time.Time{}
				return true
			}
		}
		n.once.Do(func() { unix.Close(n.fd) })
		return true
	}
	for ino, n := range f.grave {
		if check(n) {
			delete(f.grave, ino)
		}
	}
	kept := f.buried[:0]
	for _, n := range f.buried {
		if !check(n) {
			kept = append(kept, n)
		}
	}
	f.buried = kept
}

func (n *physNode) path() string { return procFD(n.fd) }

// fillAttr converts st for the kernel: our inode number, no setuid,
// setgid or sticky bits, no write bits without write permission.
func (n *physNode) fillAttr(st *unix.Stat_t, out *fuse.Attr, ino uint64) {
	out.Ino = ino
	out.Size = uint64(st.Size)
	out.Blocks = uint64(st.Blocks)
	out.Atime, out.Atimensec = uint64(st.Atim.Sec), uint32(st.Atim.Nsec)
	out.Mtime, out.Mtimensec = uint64(st.Mtim.Sec), uint32(st.Mtim.Nsec)
	out.Ctime, out.Ctimensec = uint64(st.Ctim.Sec), uint32(st.Ctim.Nsec)
	mode := st.Mode &^ (unix.S_ISUID | unix.S_ISGID | unix.S_ISVTX)
	if !n.dom.canWrite() {
		mode &^= 0o222
	}
	out.Mode = mode
	out.Nlink = uint32(st.Nlink)
	out.Uid, out.Gid = st.Uid, st.Gid
	out.Rdev = uint32(st.Rdev)
	out.Blksize = uint32(st.Blksize)
}

func (n *physNode) stat(out *fuse.Attr) syscall.Errno {
	var st unix.Stat_t
	if err := unix.Fstatat(n.fd, "", &st, unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fs.ToErrno(err)
	}
	n.fillAttr(&st, out, n.StableAttr().Ino)
	return 0
}

func (n *physNode) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	return n.stat(&out.Attr)
}

// check is upstream's permission check for an operation on a node:
// the view must still see the document (else EACCES); dirOnly operations
// need a directory document (else EPERM); write operations need write
// (else EACCES).
func (n *physNode) check(write, dirOnly bool) syscall.Errno {
	p := n.dom.perms()
	if !p.Has(PermRead) {
		return syscall.EACCES
	}
	if dirOnly && !n.dom.isDir {
		return syscall.EPERM
	}
	if write && !p.Has(PermWrite) {
		return syscall.EACCES
	}
	return 0
}

func (n *physNode) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if e := n.check(true, false); e != 0 {
		return e
	}
	p := n.path()
	if sz, ok := in.GetSize(); ok {
		var err error
		if h, ok := f.(*fileHandle); ok {
			err = unix.Ftruncate(h.fd, int64(sz))
		} else if n.mode == unix.S_IFREG {
			err = unix.Truncate(p, int64(sz))
		} else {
			err = unix.EISDIR
		}
		if err != nil {
			return fs.ToErrno(err)
		}
	}
	atime, aok := in.GetATime()
	mtime, mok := in.GetMTime()
	if aok || mok {
		ts := []unix.Timespec{{Nsec: unix.UTIME_OMIT}, {Nsec: unix.UTIME_OMIT}}
		if in.Valid&fuse.FATTR_ATIME_NOW != 0 {
			ts[0] = unix.Timespec{Nsec: unix.UTIME_NOW}
		} else if aok {
			ts[0] = unix.NsecToTimespec(atime.UnixNano())
		}
		if in.Valid&fuse.FATTR_MTIME_NOW != 0 {
			ts[1] = unix.Timespec{Nsec: unix.UTIME_NOW}
		} else if mok {
			ts[1] = unix.NsecToTimespec(mtime.UnixNano())
		}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, 0); err != nil {
			return fs.ToErrno(err)
		}
	}
	uid, uok := in.GetUID()
	gid, gok := in.GetGID()
	if uok || gok {
		u, g := -1, -1
		if uok {
			u = int(uid)
		}
		if gok {
			g = int(gid)
		}
		if err := unix.Fchownat(unix.AT_FDCWD, p, u, g, 0); err != nil {
			return fs.ToErrno(err)
		}
	}
	if mode, ok := in.GetMode(); ok {
		if err := unix.Chmod(p, mode); err != nil {
			return fs.ToErrno(err)
		}
	}
	return n.stat(&out.Attr)
}

func openHasWrite(flags uint32) bool {
	acc := flags & unix.O_ACCMODE
	return acc == unix.O_WRONLY || acc == unix.O_RDWR || flags&unix.O_TRUNC != 0
}

func (n *physNode) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if e := n.check(openHasWrite(flags), false); e != 0 {
		return nil, 0, e
	}
	flags &^= unix.O_NOFOLLOW | unix.O_CREAT | unix.O_EXCL
	if n.dom.fs.mayPass && flags&unix.O_ACCMODE != unix.O_RDWR {
		// One read-write open serves both us and passthrough (which
		// needs a writable backing file, see PassthroughFd); the kernel
		// still enforces the caller's access mode on its FUSE file.
		if fd, err := unix.Open(n.path(), int(flags&^unix.O_ACCMODE|unix.O_RDWR)|unix.O_CLOEXEC, 0); err == nil {
			h := newFileHandle(fd)
			h.rdwr = true
			return h, noFlush(flags), 0
		}
	}
	fd, err := unix.Open(n.path(), int(flags)|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, 0, fs.ToErrno(err)
	}
	h := newFileHandle(fd)
	h.rdwr = flags&unix.O_ACCMODE == unix.O_RDWR
	return h, noFlush(flags), 0
}

// noFlush spares read-only opens the FLUSH round trip at every close(2):
// there is nothing to flush (upstream answers FLUSH without doing anything).
func noFlush(flags uint32) uint32 {
	if openHasWrite(flags) {
		return 0
	}
	return fuse.FOPEN_NOFLUSH
}

// dirCheck allows directory operations only in directory documents.
func (n *physNode) dirCheck(write bool) syscall.Errno {
	return n.check(write, true)
}

func (n *physNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if !n.dom.isDir {
		return nil, syscall.ENOTDIR
	}
	fd, err := unix.Openat(n.fd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fs.ToErrno(err)
	}
	return n.dom.fs.newPhys(ctx, &n.Inode, name, n.dom, fd, out)
}

func (n *physNode) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	if e := n.check(false, true); e != 0 {
		return nil, e
	}
	fd, err := unix.Open(n.path(), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fs.ToErrno(err)
	}
	return fs.NewLoopbackDirStreamFd(fd)
}

// child looks up the new entry name in n after it was created.
func (n *physNode) child(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	fd, err := unix.Openat(n.fd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fs.ToErrno(err)
	}
	return n.dom.fs.newPhys(ctx, &n.Inode, name, n.dom, fd, out)
}

func (n *physNode) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	if e := n.dirCheck(true); e != 0 {
		return nil, nil, 0, e
	}
	fd, err := unix.Openat(n.fd, name, int(flags)|unix.O_CREAT|unix.O_CLOEXEC, mode)
	if err != nil {
		return nil, nil, 0, fs.ToErrno(err)
	}
	pfd, err := unix.Open(procFD(fd), unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(fd)
		return nil, nil, 0, fs.ToErrno(err)
	}
	ch, errno := n.dom.fs.newPhys(ctx, &n.Inode, name, n.dom, pfd, out)
	if errno != 0 {
		unix.Close(fd)
		return nil, nil, 0, errno
	}
	return ch, newFileHandle(fd), 0, 0
}

func (n *physNode) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if e := n.dirCheck(true); e != 0 {
		return nil, e
	}
	if err := unix.Mkdirat(n.fd, name, mode); err != nil {
		return nil, fs.ToErrno(err)
	}
	return n.child(ctx, name, out)
}

func (n *physNode) Mknod(ctx context.Context, name string, mode uint32, dev uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if e := n.dirCheck(true); e != 0 {
		return nil, e
	}
	if err := unix.Mknodat(n.fd, name, mode, int(dev)); err != nil {
		return nil, fs.ToErrno(err)
	}
	return n.child(ctx, name, out)
}

func (n *physNode) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if e := n.dirCheck(true); e != 0 {
		return nil, e
	}
	if err := unix.Symlinkat(target, n.fd, name); err != nil {
		return nil, fs.ToErrno(err)
	}
	return n.child(ctx, name, out)
}

func (n *physNode) Link(ctx context.Context, target fs.InodeEmbedder, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	t, ok := target.(*physNode)
	if !ok {
		return nil, syscall.EPERM
	}
	if e := t.check(true, true); e != 0 {
		return nil, e
	}
	if t.dom != n.dom {
		return nil, syscall.EXDEV
	}
	if err := unix.Linkat(unix.AT_FDCWD, t.path(), n.fd, name, unix.AT_SYMLINK_FOLLOW); err != nil {
		return nil, fs.ToErrno(err)
	}
	return n.child(ctx, name, out)
}

func (n *physNode) Unlink(ctx context.Context, name string) syscall.Errno {
	if e := n.dirCheck(true); e != 0 {
		return e
	}
	return fs.ToErrno(unix.Unlinkat(n.fd, name, 0))
}

func (n *physNode) Rmdir(ctx context.Context, name string) syscall.Errno {
	if e := n.dirCheck(true); e != 0 {
		return e
	}
	return fs.ToErrno(unix.Unlinkat(n.fd, name, unix.AT_REMOVEDIR))
}

func (n *physNode) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	if e := n.dirCheck(true); e != 0 {
		return e
	}
	switch np := newParent.(type) {
	case *physNode:
		if np.dom != n.dom {
			return syscall.EXDEV
		}
		return fs.ToErrno(unix.Renameat2(n.fd, name, np.fd, newName, uint(flags)))
	case *docNode:
		if np.dom != n.dom {
			return syscall.EXDEV
		}
		return syscall.EPERM
	}
	return syscall.EXDEV
}

func (n *physNode) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	if e := n.dirCheck(false); e != 0 {
		return nil, e
	}
	buf := make([]byte, unix.PathMax+1)
	sz, err := unix.Readlinkat(n.fd, "", buf)
	if err != nil {
		return nil, fs.ToErrno(err)
	}
	return buf[:sz], 0
}

func (n *physNode) Access(ctx context.Context, mask uint32) syscall.Errno {
	if mask&unixWOK != 0 && !n.dom.canWrite() {
		return syscall.EPERM
	}
	return fs.ToErrno(unix.Access(n.path(), mask))
}

// realPath returns the host path of n, checked against its dev/ino.
func (n *physNode) realPath() (string, bool) {
	p, err := os.Readlink(n.path())
	if err != nil {
		return "", false
	}
	var st unix.Stat_t
	if unix.Lstat(p, &st) != nil || st.Dev != n.dev || st.Ino != n.ino {
		return "", false
	}
	return p, true
}

func (n *physNode) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	if attr == hostPathXattr {
		p, ok := n.realPath()
		if !ok || !strings.HasPrefix(p, n.dom.dir) {
			return 0, syscall.ENODATA
		}
		return copyXattr(dest, p)
	}
	sz, err := unix.Getxattr(n.path(), attr, dest)
	return uint32(sz), fs.ToErrno(err)
}

func (n *physNode) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	if e := n.dirCheck(true); e != 0 {
		return e
	}
	if attr == hostPathXattr {
		return syscall.EPERM
	}
	return fs.ToErrno(unix.Setxattr(n.path(), attr, data, int(flags)))
}

func (n *physNode) Removexattr(ctx context.Context, attr string) syscall.Errno {
	if e := n.dirCheck(true); e != 0 {
		return e
	}
	if attr == hostPathXattr {
		return syscall.EPERM
	}
	return fs.ToErrno(unix.Removexattr(n.path(), attr))
}

func (n *physNode) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	var real []byte
	if sz, err := unix.Listxattr(n.path(), nil); err == nil && sz > 0 {
		real = make([]byte, sz)
		sz, err = unix.Listxattr(n.path(), real)
		if err != nil {
			return 0, fs.ToErrno(err)
		}
		real = real[:sz]
	}
	return copyXattr(dest, string(real)+hostPathXattr+"\x00")
}

func (n *physNode) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	var st unix.Statfs_t
	if err := unix.Fstatfs(n.fd, &st); err != nil {
		return fs.ToErrno(err)
	}
	statfsOut(&st, out)
	return 0
}
