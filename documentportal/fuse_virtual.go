package documentportal

import (
	"context"
	"sort"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// readOnlyDir refuses every change to a virtual directory with EPERM, as
// upstream does.
type readOnlyDir struct{}

func (readOnlyDir) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.EPERM
}
func (readOnlyDir) Mknod(ctx context.Context, name string, mode uint32, dev uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.EPERM
}
func (readOnlyDir) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	return nil, nil, 0, syscall.EPERM
}
func (readOnlyDir) Unlink(ctx context.Context, name string) syscall.Errno { return syscall.EPERM }
func (readOnlyDir) Rmdir(ctx context.Context, name string) syscall.Errno  { return syscall.EPERM }
func (readOnlyDir) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	return syscall.EPERM
}
func (readOnlyDir) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.EPERM
}
func (readOnlyDir) Link(ctx context.Context, target fs.InodeEmbedder, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.EPERM
}
func (readOnlyDir) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	return syscall.EPERM
}
func (readOnlyDir) Access(ctx context.Context, mask uint32) syscall.Errno {
	if mask&unixWOK != 0 {
		return syscall.EPERM
	}
	return 0
}
func (readOnlyDir) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	return 0, syscall.ENODATA
}
func (readOnlyDir) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	return syscall.EPERM
}
func (readOnlyDir) Removexattr(ctx context.Context, attr string) syscall.Errno { return syscall.EPERM }
func (readOnlyDir) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	return 0, syscall.ENOTSUP
}

const unixWOK = 2

// rootNode is the mount's root: the host view of every document plus
// by-app/.
type rootNode struct {
	fs.Inode
	readOnlyDir
	fs *FS
}

var (
	_ fs.NodeLookuper   = (*rootNode)(nil)
	_ fs.NodeReaddirer  = (*rootNode)(nil)
	_ fs.NodeGetattrer  = (*rootNode)(nil)
	_ fs.NodeMkdirer    = (*rootNode)(nil)
	_ fs.NodeRenamer    = (*rootNode)(nil)
	_ fs.NodeAccesser   = (*rootNode)(nil)
	_ fs.NodeGetxattrer = (*rootNode)(nil)
)

func (r *rootNode) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	r.fs.virtualAttr(&out.Attr, fuse.FUSE_ROOT_ID, virtualPerm)
	out.SetTimeout(virtualTimeout)
	return 0
}

func (r *rootNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if name == byAppName {
		ino := inoOf("by-app")
		r.fs.virtualAttr(&out.Attr, ino, virtualPerm)
		virtualEntry(out)
		return r.NewPersistentInode(ctx, r.fs.byApp, fs.StableAttr{Mode: syscall.S_IFDIR, Ino: ino}), 0
	}
	return lookupDoc(ctx, &r.Inode, r.fs, name, "", out)
}

func (r *rootNode) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	ents := []fuse.DirEntry{{Name: byAppName, Mode: syscall.S_IFDIR, Ino: inoOf("by-app")}}
	for _, id := range r.fs.db.ids("") {
		ents = append(ents, fuse.DirEntry{Name: id, Mode: syscall.S_IFDIR, Ino: inoOf("doc", id, "")})
	}
	return fs.NewListDirStream(ents), 0
}

// lookupDoc returns the document directory id in app's view.
func lookupDoc(ctx context.Context, parent *fs.Inode, f *FS, id, app string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	p, ok := f.db.perms(id, app)
	if !ok || !p.Has(PermRead) {
		return nil, syscall.ENOENT
	}
	d := f.domainFor(id, app)
	if d == nil {
		return nil, syscall.ENOENT
	}
	n := &docNode{dom: d}
	n.attr(&out.Attr)
	virtualEntry(out)
	return parent.NewInode(ctx, n, fs.StableAttr{Mode: syscall.S_IFDIR, Ino: n.ino()}), 0
}

// byAppNode lists the per-app views.
type byAppNode struct {
	fs.Inode
	readOnlyDir
	fs *FS
}

var (
	_ fs.NodeLookuper  = (*byAppNode)(nil)
	_ fs.NodeReaddirer = (*byAppNode)(nil)
	_ fs.NodeGetattrer = (*byAppNode)(nil)
)

func (b *byAppNode) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	b.fs.virtualAttr(&out.Attr, inoOf("by-app"), virtualPerm)
	out.SetTimeout(virtualTimeout)
	return 0
}

// Lookup makes a view for any valid app id, so a launcher can bind-mount
// the view of an app that has no document yet.
func (b *byAppNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if !ValidAppID(name) {
		return nil, syscall.ENOENT
	}
	ino := inoOf("app", name)
	b.fs.virtualAttr(&out.Attr, ino, virtualPerm)
	virtualEntry(out)
	return b.NewInode(ctx, &appNode{fs: b.fs, app: name}, fs.StableAttr{Mode: syscall.S_IFDIR, Ino: ino}), 0
}

func (b *byAppNode) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	set := map[string]bool{}
	for name := range b.Children() {
		set[name] = true
	}
	for _, a := range b.fs.db.apps() {
		set[a] = true
	}
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	sort.Strings(names)
	ents := make([]fuse.DirEntry, 0, len(names))
	for _, n := range names {
		ents = append(ents, fuse.DirEntry{Name: n, Mode: syscall.S_IFDIR, Ino: inoOf("app", n)})
	}
	return fs.NewListDirStream(ents), 0
}

// appNode is one app's view: the documents it may read.
type appNode struct {
	fs.Inode
	readOnlyDir
	fs  *FS
	app string
}

var (
	_ fs.NodeLookuper  = (*appNode)(nil)
	_ fs.NodeReaddirer = (*appNode)(nil)
	_ fs.NodeGetattrer = (*appNode)(nil)
)

func (a *appNode) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	a.fs.virtualAttr(&out.Attr, inoOf("app", a.app), virtualPerm)
	out.SetTimeout(virtualTimeout)
	return 0
}

func (a *appNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return lookupDoc(ctx, &a.Inode, a.fs, name, a.app, out)
}

func (a *appNode) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	var ents []fuse.DirEntry
	for _, id := range a.fs.db.ids(a.app) {
		ents = append(ents, fuse.DirEntry{Name: id, Mode: syscall.S_IFDIR, Ino: inoOf("doc", id, a.app)})
	}
	return fs.NewListDirStream(ents), 0
}
