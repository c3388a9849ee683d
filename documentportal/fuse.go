package documentportal

import (
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// hostPathXattr names the extended attribute that gives an entry's host
// path.
const hostPathXattr = "user.document-portal.host-path"

// byAppName is the directory of per-app views.
const byAppName = "by-app"

// virtualTimeout is how long the kernel may cache virtual directories;
// permission changes invalidate them at once (see FS.invalidate). Real
// files are never cached: the host may change them at any time.
const virtualTimeout = time.Second

// FS is the document file system. Its views are computed from the db on
// every lookup.
type FS struct {
	db       *db
	uid, gid uint32
	log      *slog.Logger

	root   *rootNode
	byApp  *byAppNode
	server *fuse.Server
	dev    uint64 // st_dev of the mount, to spot fds on it
	// mayPass: FUSE passthrough may work (it needs CAP_SYS_ADMIN; go-fuse
	// stops trying after the first refusal).
	mayPass bool

	invalMu sync.Mutex
	inval   []pendingInval

	mu      sync.Mutex
	domains map[domKey]*domain
	byIno   map[uint64]*physNode // live physical nodes, for Lookup/Add on the mount
	grave   map[uint64]*physNode // forgotten nodes whose fds are closed soon
	buried  []*physNode          // more of them (an inode number forgotten twice)
	stop    chan struct{}
}

func newFS(d *db, log *slog.Logger) *FS {
	f := &FS{
		db: d, uid: uint32(os.Getuid()), gid: uint32(os.Getgid()), log: log,
		domains: map[domKey]*domain{}, byIno: map[uint64]*physNode{},
		grave: map[uint64]*physNode{}, stop: make(chan struct{}),
	}
	f.mayPass = os.Geteuid() == 0
	f.root = &rootNode{fs: f}
	f.byApp = &byAppNode{fs: f}
	return f
}

type domKey struct{ doc, app string }

type pendingInval struct {
	parent *fs.Inode
	name   string
}

// queueInval asks the kernel, 10ms from now and from another goroutine
// (never from inside a request), to drop its dentry for parent/name.
func (f *FS) queueInval(parent *fs.Inode, name string) {
	f.invalMu.Lock()
	defer f.invalMu.Unlock()
	for _, p := range f.inval {
		if p.parent == parent && p.name == name {
			return
		}
	}
	f.inval = append(f.inval, pendingInval{parent, name})
	if len(f.inval) == 1 {
		time.AfterFunc(10*time.Millisecond, f.flushInval)
	}
}

func (f *FS) flushInval() {
	f.invalMu.Lock()
	list := f.inval
	f.inval = nil
	f.invalMu.Unlock()
	for _, p := range list {
		p.parent.NotifyEntry(p.name)
	}
}

// domain is one document in one view; it owns the view's temporary files.
type domain struct {
	fs  *FS
	doc string
	app string // "" for the host view
	// Immutable document data.
	path     string // file path (file documents) or directory path
	dir      string // directory holding the name
	name     string // the exposed name
	dev, ino uint64
	isDir    bool

	mu    sync.Mutex
	temps map[string]string // visible name → real hidden name in dir
}

// domainFor returns the domain of doc in app's view, or nil when the
// document does not exist.
func (f *FS) domainFor(doc, app string) *domain {
	e, ok := f.db.get(doc)
	if !ok {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	k := domKey{doc, app}
	if d, ok := f.domains[k]; ok {
		return d
	}
	d := &domain{fs: f, doc: doc, app: app, path: e.Path, dir: e.DirPath(), name: e.Name(),
		dev: e.Dev, ino: e.Ino, isDir: e.IsDir(), temps: map[string]string{}}
	f.domains[k] = d
	return d
}

// perms returns the view's permissions, 0 once the document is gone.
func (d *domain) perms() Perm {
	p, _ := d.fs.db.perms(d.doc, d.app)
	return p
}

func (d *domain) canSee() bool   { return d.perms().Has(PermRead) }
func (d *domain) canWrite() bool { return d.perms().Has(PermWrite) }

// openDir opens the document's directory with O_PATH and checks that it
// is still the directory the document was made for.
func (d *domain) openDir() (int, syscall.Errno) {
	fd, err := unix.Open(d.dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fs.ToErrno(err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Dev != d.dev || st.Ino != d.ino {
		unix.Close(fd)
		return -1, syscall.ENOENT
	}
	return fd, 0
}

// dropTemps removes the domain's temporary files from the disk.
func (d *domain) dropTemps() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for name, real := range d.temps {
		unix.Unlink(d.dir + "/" + real)
		delete(d.temps, name)
	}
}

// forgetDoc drops the domains of a deleted document.
func (f *FS) forgetDoc(doc string) {
	f.mu.Lock()
	var ds []*domain
	for k, d := range f.domains {
		if k.doc == doc {
			ds = append(ds, d)
			delete(f.domains, k)
		}
	}
	f.mu.Unlock()
	for _, d := range ds {
		d.dropTemps()
	}
}

// inoOf derives a stable inode number from a key; 0 and 1 (the root) are
// never returned.
func inoOf(parts ...string) uint64 {
	h := md5.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	n := binary.LittleEndian.Uint64(h.Sum(nil))
	if n <= fuse.FUSE_ROOT_ID {
		n = fuse.FUSE_ROOT_ID + 1
	}
	return n
}

func physIno(dev, ino uint64, doc, app string) uint64 {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], dev)
	binary.LittleEndian.PutUint64(b[8:], ino)
	return inoOf("phys", string(b[:]), doc, app)
}

// invalidate drops what the kernel caches about doc in app's view (all
// views when app is ""), so permission changes apply at once. It must
// not be called from a FUSE request.
func (f *FS) invalidate(doc, app string) {
	if f.server == nil {
		return
	}
	inval := func(parent *fs.Inode) {
		if parent == nil {
			return
		}
		if ch := parent.GetChild(doc); ch != nil {
			ch.NotifyContent(0, 0)
		}
		parent.NotifyEntry(doc)
	}
	byApp := f.root.GetChild(byAppName)
	if app != "" {
		if byApp != nil {
			inval(byApp.GetChild(app))
		}
		return
	}
	inval(&f.root.Inode)
	if byApp != nil {
		for _, ch := range byApp.Children() {
			inval(ch)
		}
	}
}

// idForIno tells which document a node of this file system shows, for an
// fd a caller passed: a file document's main file (not a temporary file)
// or a directory document's directory give the document; a file inside a
// directory document gives the document and its real path when
// withSubPath is set.
func (f *FS) idForIno(ino uint64, dir, withSubPath bool) (id, realPath string) {
	f.mu.Lock()
	n := f.byIno[ino]
	f.mu.Unlock()
	if n == nil {
		return "", ""
	}
	d := n.dom
	if !d.isDir {
		if dir {
			return "", ""
		}
		var st unix.Stat_t
		if unix.Lstat(d.path, &st) == nil && st.Dev == n.dev && st.Ino == n.ino {
			return d.doc, ""
		}
		return "", ""
	}
	if n.dev == d.dev && n.ino == d.ino {
		return d.doc, ""
	}
	if withSubPath {
		if p, ok := n.realPath(); ok {
			return d.doc, p
		}
	}
	return "", ""
}

// Mount mounts the file system on dir (created if needed; a stale mount
// left by a crashed portal is detached first).
func (f *FS) Mount(dir string) error {
	if err := clearStaleMount(dir); err != nil && f.log != nil {
		f.log.Warn("cannot detach a stale mount", "err", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating mount point: %w", err)
	}
	zero := time.Duration(0)
	opts := &fs.Options{
		EntryTimeout:    &zero,
		AttrTimeout:     &zero,
		NegativeTimeout: &zero,
		UID:             f.uid,
		GID:             f.gid,
		MountOptions: fuse.MountOptions{
			FsName:       "portal",
			Name:         "portal",
			MaxWrite:     1 << 20,
			MaxReadAhead: 1 << 20,
			// Plain READDIR as upstream: READDIRPLUS would make us look
			// every entry up (and open it) for each listing.
			DisableReadDirPlus: true,
			// With automatic invalidation and attributes never cached,
			// the kernel asks for the attributes before every read(2)
			// (one more round trip per read: half the speed of small
			// random reads). Without it the page cache is still
			// dropped at every open and whenever the size changes; only
			// a same-size change by the host while the file is open may
			// go unseen until the next open.
			DisabledCapabilities: fuse.CAP_AUTO_INVAL_DATA,
		},
	}
	server, err := fs.Mount(dir, f.root, opts)
	if err != nil {
		return fmt.Errorf("mounting %s: %w", dir, err)
	}
	f.server = server
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		server.Unmount()
		return fmt.Errorf("mounting %s: %w", dir, err)
	}
	f.dev = st.Dev
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-f.stop:
				return
			case <-t.C:
				f.reap(false)
			}
		}
	}()
	return nil
}

// Unmount unmounts the file system, detaching it lazily when busy.
func (f *FS) Unmount(dir string) {
	if f.server == nil {
		return
	}
	if err := f.server.Unmount(); err != nil {
		lazyUnmount(dir)
	}
	// A lazily detached mount lives on while files on it are open; do not
	// wait for those.
	done := make(chan struct{})
	go func() { f.server.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
	close(f.stop)
	f.mu.Lock()
	ds := make([]*domain, 0, len(f.domains))
	for _, d := range f.domains {
		ds = append(ds, d)
	}
	f.mu.Unlock()
	for _, d := range ds {
		d.dropTemps()
	}
}

// clearStaleMount detaches a FUSE file system left on dir (as upstream
// does): we own the bus name, so no live portal of this session serves it.
func clearStaleMount(dir string) error {
	var st unix.Stat_t
	var sfs unix.Statfs_t
	serr := unix.Stat(dir, &st)
	ferr := unix.Statfs(dir, &sfs)
	if errors.Is(serr, unix.ENOTCONN) || errors.Is(ferr, unix.ENOTCONN) || (ferr == nil && sfs.Type == unix.FUSE_SUPER_MAGIC) {
		return lazyUnmount(dir)
	}
	return nil
}

func lazyUnmount(dir string) error {
	if os.Geteuid() == 0 && unix.Unmount(dir, unix.MNT_DETACH) == nil {
		return nil
	}
	out, err := exec.Command("fusermount3", "-u", "-z", dir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("fusermount3 -u -z %s: %v: %s", dir, err, out)
	}
	return nil
}

// virtualAttr fills the attributes of a virtual directory.
func (f *FS) virtualAttr(out *fuse.Attr, ino uint64, perm uint32) {
	out.Ino = ino
	out.Mode = syscall.S_IFDIR | perm
	out.Nlink = 2
	out.Uid, out.Gid = f.uid, f.gid
}

func virtualEntry(out *fuse.EntryOut) {
	out.SetEntryTimeout(virtualTimeout)
	out.SetAttrTimeout(virtualTimeout)
}

// Bits of the virtual directories.
const (
	virtualPerm = 0o500
	docFilePerm = 0o700
	docDirPerm  = 0o500
)
