package documentportal

import (
	"context"
	"crypto/rand"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// docNode is a document's directory, <id>/, in one view. For a file
// document it holds the file's one name plus the view's temporary files;
// for a directory document, the directory's name.
type docNode struct {
	fs.Inode
	dom *domain
}

var (
	_ fs.NodeLookuper      = (*docNode)(nil)
	_ fs.NodeReaddirer     = (*docNode)(nil)
	_ fs.NodeGetattrer     = (*docNode)(nil)
	_ fs.NodeSetattrer     = (*docNode)(nil)
	_ fs.NodeCreater       = (*docNode)(nil)
	_ fs.NodeUnlinker      = (*docNode)(nil)
	_ fs.NodeRenamer       = (*docNode)(nil)
	_ fs.NodeMkdirer       = (*docNode)(nil)
	_ fs.NodeMknoder       = (*docNode)(nil)
	_ fs.NodeRmdirer       = (*docNode)(nil)
	_ fs.NodeSymlinker     = (*docNode)(nil)
	_ fs.NodeLinker        = (*docNode)(nil)
	_ fs.NodeAccesser      = (*docNode)(nil)
	_ fs.NodeGetxattrer    = (*docNode)(nil)
	_ fs.NodeSetxattrer    = (*docNode)(nil)
	_ fs.NodeRemovexattrer = (*docNode)(nil)
	_ fs.NodeListxattrer   = (*docNode)(nil)
	_ fs.NodeStatfser      = (*docNode)(nil)
)

func (n *docNode) ino() uint64 { return inoOf("doc", n.dom.doc, n.dom.app) }

func (n *docNode) attr(out *fuse.Attr) {
	perm := uint32(docFilePerm)
	if n.dom.isDir {
		perm = docDirPerm
	}
	if !n.dom.canWrite() {
		perm &^= 0o222
	}
	n.dom.fs.virtualAttr(out, n.ino(), perm)
}

// Getattr: the attributes may be cached like those of the other virtual
// directories; permission changes invalidate them (FS.invalidate).
func (n *docNode) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	n.attr(&out.Attr)
	out.SetTimeout(virtualTimeout)
	return 0
}

func (n *docNode) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if e := n.checkWrite(); e != 0 {
		return e
	}
	return syscall.EPERM
}

// checkWrite is upstream's check order for changes: the view must still
// see the document and may write it.
func (n *docNode) checkWrite() syscall.Errno {
	p := n.dom.perms()
	if !p.Has(PermRead) {
		return syscall.EACCES
	}
	if !p.Has(PermWrite) {
		return syscall.EACCES
	}
	return 0
}

func (n *docNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	d := n.dom
	if !d.canSee() {
		return nil, syscall.ENOENT
	}
	dirfd, errno := d.openDir()
	if errno != 0 {
		return nil, errno
	}
	defer unix.Close(dirfd)
	if d.isDir {
		if name != d.name {
			return nil, syscall.ENOENT
		}
		fd, err := unix.Openat(dirfd, ".", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, fs.ToErrno(err)
		}
		return d.fs.newPhys(ctx, &n.Inode, name, d, fd, out)
	}
	real := name
	if name != d.name {
		d.mu.Lock()
		t, ok := d.temps[name]
		d.mu.Unlock()
		if !ok {
			return nil, syscall.ENOENT
		}
		real = t
	}
	fd, err := unix.Openat(dirfd, real, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fs.ToErrno(err)
	}
	return d.fs.newPhys(ctx, &n.Inode, name, d, fd, out)
}

func (n *docNode) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	d := n.dom
	var ents []fuse.DirEntry
	var st unix.Stat_t
	if d.isDir {
		if unix.Stat(d.path, &st) == nil && st.Dev == d.dev && st.Ino == d.ino {
			ents = append(ents, fuse.DirEntry{Name: d.name, Mode: st.Mode & unix.S_IFMT})
		}
		return fs.NewListDirStream(ents), 0
	}
	if unix.Stat(d.path, &st) == nil {
		ents = append(ents, fuse.DirEntry{Name: d.name, Mode: st.Mode & unix.S_IFMT})
	}
	d.mu.Lock()
	for name := range d.temps {
		ents = append(ents, fuse.DirEntry{Name: name, Mode: syscall.S_IFREG})
	}
	d.mu.Unlock()
	return fs.NewListDirStream(ents), 0
}

// tempName makes the hidden name of a temporary file for name.
func tempName(name string) string {
	const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	var b [6]byte
	rand.Read(b[:])
	for i := range b {
		b[i] = letters[int(b[i])%len(letters)]
	}
	return ".xdp-" + name + "-" + string(b[:])
}

// openTemp creates a new hidden file for name in dirfd.
func openTemp(dirfd int, name string, mode uint32) (string, int, syscall.Errno) {
	for i := 0; i < 100; i++ {
		real := tempName(name)
		fd, err := unix.Openat(dirfd, real, unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_NOCTTY|unix.O_RDWR|unix.O_CLOEXEC, mode)
		if err == unix.EEXIST {
			continue
		}
		if err != nil {
			return "", -1, fs.ToErrno(err)
		}
		return real, fd, 0
	}
	return "", -1, syscall.EEXIST
}

func (n *docNode) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	d := n.dom
	if e := n.checkWrite(); e != 0 {
		return nil, nil, 0, e
	}
	if d.isDir {
		return nil, nil, 0, syscall.EPERM
	}
	dirfd, errno := d.openDir()
	if errno != 0 {
		return nil, nil, 0, errno
	}
	defer unix.Close(dirfd)
	var fd int
	var err error
	if name == d.name {
		fd, err = unix.Openat(dirfd, name, int(flags)|unix.O_CLOEXEC, mode)
		if err != nil {
			return nil, nil, 0, fs.ToErrno(err)
		}
	} else {
		d.mu.Lock()
		real, ok := d.temps[name]
		if ok && flags&unix.O_CREAT != 0 && flags&unix.O_EXCL != 0 {
			d.mu.Unlock()
			return nil, nil, 0, syscall.EEXIST
		}
		if !ok {
			var tfd int
			var e syscall.Errno
			real, tfd, e = openTemp(dirfd, name, mode)
			if e != 0 {
				d.mu.Unlock()
				return nil, nil, 0, e
			}
			unix.Close(tfd)
			d.temps[name] = real
		}
		d.mu.Unlock()
		fd, err = unix.Openat(dirfd, real, int(flags&^(unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW))|unix.O_CLOEXEC, mode)
		if err != nil {
			return nil, nil, 0, fs.ToErrno(err)
		}
	}
	pfd, err := unix.Open(procFD(fd), unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(fd)
		return nil, nil, 0, fs.ToErrno(err)
	}
	ch, errno := d.fs.newPhys(ctx, &n.Inode, name, d, pfd, out)
	if errno != 0 {
		unix.Close(fd)
		return nil, nil, 0, errno
	}
	return ch, newFileHandle(fd), 0, 0
}

func (n *docNode) Unlink(ctx context.Context, name string) syscall.Errno {
	d := n.dom
	if e := n.checkWrite(); e != 0 {
		return e
	}
	if d.isDir {
		return syscall.EPERM
	}
	dirfd, errno := d.openDir()
	if errno != 0 {
		return errno
	}
	defer unix.Close(dirfd)
	if name == d.name {
		return fs.ToErrno(unix.Unlinkat(dirfd, name, 0))
	}
	d.mu.Lock()
	real, ok := d.temps[name]
	delete(d.temps, name)
	d.mu.Unlock()
	if !ok {
		return syscall.ENOENT
	}
	unix.Unlinkat(dirfd, real, 0)
	return 0
}

// Rename renames within one file document's directory: the main file onto
// a temporary name, a temporary file onto the main name (an atomic rename
// on the host), or one temporary name to another. Anything across
// directories is EXDEV.
func (n *docNode) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	d := n.dom
	if e := n.checkWrite(); e != 0 {
		return e
	}
	if d.isDir {
		return syscall.EPERM
	}
	if np, ok := newParent.(*docNode); !ok || np.dom != d {
		return syscall.EXDEV
	}
	if name == newName {
		return 0
	}
	dirfd, errno := d.openDir()
	if errno != 0 {
		return errno
	}
	defer unix.Close(dirfd)
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case name == d.name:
		real, tfd, e := openTemp(dirfd, newName, 0o600)
		if e != 0 {
			return e
		}
		unix.Close(tfd)
		if err := unix.Renameat2(dirfd, name, dirfd, real, uint(flags)); err != nil {
			unix.Unlinkat(dirfd, real, 0)
			return fs.ToErrno(err)
		}
		if old, ok := d.temps[newName]; ok {
			unix.Unlinkat(dirfd, old, 0)
		}
		d.temps[newName] = real
	case newName == d.name:
		real, ok := d.temps[name]
		if !ok {
			return syscall.ENOENT
		}
		if err := unix.Renameat2(dirfd, real, dirfd, newName, uint(flags)); err != nil {
			return fs.ToErrno(err)
		}
		delete(d.temps, name)
	default:
		real, ok := d.temps[name]
		if !ok {
			return syscall.ENOENT
		}
		if old, ok := d.temps[newName]; ok {
			unix.Unlinkat(dirfd, old, 0)
		}
		delete(d.temps, name)
		d.temps[newName] = real
	}
	return 0
}

func (n *docNode) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if e := n.checkWrite(); e != 0 {
		return nil, e
	}
	return nil, syscall.EPERM
}

func (n *docNode) Mknod(ctx context.Context, name string, mode uint32, dev uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if e := n.checkWrite(); e != 0 {
		return nil, e
	}
	return nil, syscall.EPERM
}

func (n *docNode) Rmdir(ctx context.Context, name string) syscall.Errno {
	if e := n.checkWrite(); e != 0 {
		return e
	}
	return syscall.EPERM
}

func (n *docNode) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if e := n.checkWrite(); e != 0 {
		return nil, e
	}
	return nil, syscall.EPERM
}

func (n *docNode) Link(ctx context.Context, target fs.InodeEmbedder, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if e := n.checkWrite(); e != 0 {
		return nil, e
	}
	return nil, syscall.EPERM
}

func (n *docNode) Access(ctx context.Context, mask uint32) syscall.Errno {
	d := n.dom
	if mask&unixWOK != 0 && !d.canWrite() {
		return syscall.EPERM
	}
	if d.isDir {
		if mask&unixWOK != 0 {
			return syscall.EPERM
		}
		return 0
	}
	return fs.ToErrno(unix.Access(d.dir, mask))
}

// Getxattr gives the host path of a file document's directory; a
// directory document's top has none.
func (n *docNode) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	if n.dom.isDir || attr != hostPathXattr {
		return 0, syscall.ENODATA
	}
	return copyXattr(dest, n.dom.dir)
}

func (n *docNode) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	if e := n.checkWrite(); e != 0 {
		return e
	}
	return syscall.EPERM
}

func (n *docNode) Removexattr(ctx context.Context, attr string) syscall.Errno {
	if e := n.checkWrite(); e != 0 {
		return e
	}
	return syscall.EPERM
}

func (n *docNode) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	if n.dom.isDir {
		return 0, 0
	}
	return copyXattr(dest, hostPathXattr+"\x00")
}

func (n *docNode) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	var st unix.Statfs_t
	if err := unix.Statfs(n.dom.dir, &st); err != nil {
		return fs.ToErrno(err)
	}
	statfsOut(&st, out)
	return 0
}

// copyXattr answers a getxattr/listxattr request: the size when dest is
// empty, ERANGE when it is too small.
func copyXattr(dest []byte, val string) (uint32, syscall.Errno) {
	if len(dest) == 0 {
		return uint32(len(val)), 0
	}
	if len(dest) < len(val) {
		return uint32(len(val)), syscall.ERANGE
	}
	return uint32(copy(dest, val)), 0
}

func statfsOut(st *unix.Statfs_t, out *fuse.StatfsOut) {
	out.Blocks = st.Blocks
	out.Bfree = st.Bfree
	out.Bavail = st.Bavail
	out.Files = st.Files
	out.Ffree = st.Ffree
	out.Bsize = uint32(st.Bsize)
	out.NameLen = uint32(st.Namelen)
	out.Frsize = uint32(st.Frsize)
}
