package documentportal

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/porthole-dev/porthole/internal/testenv"
	"golang.org/x/sys/unix"
)

// mountTest mounts a document file system over a fresh db (nothing
// persisted) and returns it with its mount point.
func mountTest(t *testing.T) (*FS, string) {
	t.Helper()
	testenv.RequireFUSE(t)
	f := newFS(newDB(nil), nil)
	mnt := filepath.Join(t.TempDir(), "doc")
	if err := f.Mount(mnt); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Unmount(mnt) })
	return f, mnt
}

// addFile exports path as a file document with the given grants.
func addFile(t *testing.T, f *FS, path string, grants map[string]Perm) string {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(filepath.Dir(path), &st); err != nil {
		t.Fatal(err)
	}
	id := f.db.create(path, st.Dev, st.Ino, true, false, false)
	for app, p := range grants {
		f.db.setPerms(id, app, p)
		f.invalidate(id, app)
	}
	f.invalidate(id, "")
	return id
}

func readDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("ReadDir(%s): %v", dir, err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func errnoOf(err error) syscall.Errno {
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	return 0
}

func TestFUSEViews(t *testing.T) {
	f, mnt := mountTest(t)
	src := t.TempDir()
	a := filepath.Join(src, "a.txt")
	b := filepath.Join(src, "b.txt")
	os.WriteFile(a, []byte("A"), 0o644)
	os.WriteFile(b, []byte("B"), 0o644)
	idA := addFile(t, f, a, map[string]Perm{"org.example.A": PermRead})
	idB := addFile(t, f, b, map[string]Perm{"org.example.B": PermRead | PermWrite})

	want := []string{byAppName, idA, idB}
	sort.Strings(want)
	if diff := cmp.Diff(readDir(t, mnt), want); diff != "" {
		t.Errorf("root (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(readDir(t, filepath.Join(mnt, byAppName)), []string{"org.example.A", "org.example.B"}); diff != "" {
		t.Errorf("by-app (-got +want):\n%s", diff)
	}
	appA := filepath.Join(mnt, byAppName, "org.example.A")
	appB := filepath.Join(mnt, byAppName, "org.example.B")
	if diff := cmp.Diff(readDir(t, appA), []string{idA}); diff != "" {
		t.Errorf("app A's view (-got +want):\n%s", diff)
	}
	if _, err := os.Stat(filepath.Join(appB, idA)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("app B sees A's document: %v", err)
	}
	if got, err := os.ReadFile(filepath.Join(appA, idA, "a.txt")); err != nil || string(got) != "A" {
		t.Errorf("reading A's document as A = %q, %v", got, err)
	}
	// A doc dir has exactly the one name.
	if diff := cmp.Diff(readDir(t, filepath.Join(mnt, idA)), []string{"a.txt"}); diff != "" {
		t.Errorf("doc dir (-got +want):\n%s", diff)
	}
	if _, err := os.Stat(filepath.Join(mnt, idA, "b.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("other name in a doc dir: %v", err)
	}
	// Unknown ids and invalid app ids do not exist.
	if _, err := os.Stat(filepath.Join(mnt, "nosuchid")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("unknown id: %v", err)
	}
	if _, err := os.Stat(filepath.Join(mnt, byAppName, "not-an-app")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("invalid app id: %v", err)
	}
	// Virtual dirs are read-only.
	if err := os.Mkdir(filepath.Join(mnt, "x"), 0o755); errnoOf(err) != syscall.EPERM {
		t.Errorf("mkdir in root = %v, want EPERM", err)
	}
	// Permission changes apply at once: grant A's doc to B, then revoke.
	f.db.setPerms(idA, "org.example.B", PermRead)
	f.invalidate(idA, "org.example.B")
	if got, err := os.ReadFile(filepath.Join(appB, idA, "a.txt")); err != nil || string(got) != "A" {
		t.Errorf("after grant, B reads %q, %v", got, err)
	}
	f.db.setPerms(idA, "org.example.B", 0)
	f.invalidate(idA, "org.example.B")
	if _, err := os.Stat(filepath.Join(appB, idA, "a.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after revoke, B still sees the document: %v", err)
	}
	// The host path xattr.
	buf := make([]byte, 4096)
	n, err := unix.Getxattr(filepath.Join(mnt, idA, "a.txt"), hostPathXattr, buf)
	if err != nil || string(buf[:n]) != a {
		t.Errorf("host path xattr = %q, %v, want %q", buf[:max(n, 0)], err, a)
	}
}

func TestFUSEWritePermissions(t *testing.T) {
	f, mnt := mountTest(t)
	src := t.TempDir()
	p := filepath.Join(src, "doc.txt")
	os.WriteFile(p, []byte("original"), 0o644)
	id := addFile(t, f, p, map[string]Perm{"org.example.R": PermRead, "org.example.W": PermRead | PermWrite})
	ro := filepath.Join(mnt, byAppName, "org.example.R", id)
	rw := filepath.Join(mnt, byAppName, "org.example.W", id)

	for _, tc := range []struct {
		name string
		op   func() error
	}{
		{"open for writing", func() error {
			fd, err := os.OpenFile(filepath.Join(ro, "doc.txt"), os.O_WRONLY, 0)
			if err == nil {
				fd.Close()
			}
			return err
		}},
		{"truncate", func() error { return os.Truncate(filepath.Join(ro, "doc.txt"), 0) }},
		{"create a temporary file", func() error { return os.WriteFile(filepath.Join(ro, "tmp"), nil, 0o644) }},
		{"unlink", func() error { return os.Remove(filepath.Join(ro, "doc.txt")) }},
		{"rename", func() error { return os.Rename(filepath.Join(ro, "doc.txt"), filepath.Join(ro, "x")) }},
	} {
		if err := tc.op(); errnoOf(err) != syscall.EACCES {
			t.Errorf("read-only view: %s = %v, want EACCES", tc.name, err)
		}
	}
	st, err := os.Stat(ro)
	if err != nil || st.Mode().Perm() != 0o500 {
		t.Errorf("read-only doc dir mode = %v, %v, want 0500", st.Mode(), err)
	}
	if st, err := os.Stat(filepath.Join(ro, "doc.txt")); err != nil || st.Mode().Perm()&0o222 != 0 {
		t.Errorf("read-only file mode = %v, %v, want no write bits", st.Mode(), err)
	}

	// Save through a temporary file: only the app's view sees it; the
	// rename replaces the real file atomically.
	tmp := filepath.Join(rw, ".doc.txt.tmp")
	if err := os.WriteFile(tmp, []byte("new content"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(mnt, id, ".doc.txt.tmp")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary file visible in the host view: %v", err)
	}
	if got, _ := os.ReadFile(p); string(got) != "original" {
		t.Errorf("real file changed before rename: %q", got)
	}
	var before unix.Stat_t
	unix.Stat(filepath.Join(rw, "doc.txt"), &before)
	if err := os.Rename(tmp, filepath.Join(rw, "doc.txt")); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(p); string(got) != "new content" {
		t.Errorf("real file after rename = %q", got)
	}
	hidden, _ := filepath.Glob(filepath.Join(src, ".xdp-*"))
	if len(hidden) != 0 {
		t.Errorf("left-over hidden files: %v", hidden)
	}
	// Renames out of the document: EXDEV.
	if err := os.Rename(filepath.Join(rw, "doc.txt"), filepath.Join(mnt, id, "doc.txt")); errnoOf(err) != syscall.EXDEV {
		t.Errorf("rename across views = %v, want EXDEV", err)
	}
	if err := os.Mkdir(filepath.Join(rw, "sub"), 0o755); errnoOf(err) != syscall.EPERM {
		t.Errorf("mkdir in a file document = %v, want EPERM", err)
	}
	// Stable inode numbers: same file, same view, same number.
	var s1, s2 unix.Stat_t
	unix.Stat(filepath.Join(rw, "doc.txt"), &s1)
	unix.Stat(filepath.Join(rw, "doc.txt"), &s2)
	if s1.Ino != s2.Ino || s1.Ino != physIno(realDev(t, p), realIno(t, p), id, "org.example.W") {
		t.Errorf("inode numbers %d, %d not stable", s1.Ino, s2.Ino)
	}
}

func realDev(t *testing.T, p string) uint64 {
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		t.Fatal(err)
	}
	return st.Dev
}

func realIno(t *testing.T, p string) uint64 {
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

func TestFUSEDirectoryDocument(t *testing.T) {
	f, mnt := mountTest(t)
	src := filepath.Join(t.TempDir(), "project")
	os.MkdirAll(filepath.Join(src, "sub"), 0o755)
	os.WriteFile(filepath.Join(src, "sub", "f"), []byte("F"), 0o644)
	var st unix.Stat_t
	unix.Stat(src, &st)
	id := f.db.create(src, st.Dev, st.Ino, true, false, true)
	f.db.setPerms(id, "org.example.W", PermRead|PermWrite)
	f.db.setPerms(id, "org.example.R", PermRead)
	root := filepath.Join(mnt, byAppName, "org.example.W", id, "project")
	if got, err := os.ReadFile(filepath.Join(root, "sub", "f")); err != nil || string(got) != "F" {
		t.Fatalf("reading through a directory document = %q, %v", got, err)
	}
	if err := os.WriteFile(filepath.Join(root, "new"), []byte("N"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(src, "new")); string(got) != "N" {
		t.Errorf("real file = %q", got)
	}
	if err := os.Rename(filepath.Join(root, "new"), filepath.Join(root, "sub", "moved")); err != nil {
		t.Errorf("rename inside the document: %v", err)
	}
	ro := filepath.Join(mnt, byAppName, "org.example.R", id, "project")
	if err := os.WriteFile(filepath.Join(ro, "x"), nil, 0o644); errnoOf(err) != syscall.EACCES {
		t.Errorf("create without write = %v, want EACCES", err)
	}
	buf := make([]byte, 4096)
	n, err := unix.Getxattr(filepath.Join(root, "sub"), hostPathXattr, buf)
	if err != nil || string(buf[:n]) != filepath.Join(src, "sub") {
		t.Errorf("host path of sub = %q, %v", buf[:max(n, 0)], err)
	}
}

// TestFUSEHostChanges: the kernel may cache a document's data, but a
// change made on the host shows at the next open, and a change of size
// shows even in a file kept open (stat refreshes the size and drops the
// cached pages).
func TestFUSEHostChanges(t *testing.T) {
	f, mnt := mountTest(t)
	src := filepath.Join(t.TempDir(), "h.txt")
	if err := os.WriteFile(src, []byte("first"), 0o644); err != nil {
		t.Fatal(err)
	}
	id := addFile(t, f, src, map[string]Perm{"org.example.A": PermRead})
	doc := filepath.Join(mnt, byAppName, "org.example.A", id, "h.txt")
	read := func() string {
		t.Helper()
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if got := read(); got != "first" {
		t.Fatalf("read %q, want first", got)
	}
	// Same size, rewritten in place: seen at the next open.
	if err := os.WriteFile(src, []byte("again"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := read(); got != "again" {
		t.Errorf("after a same-size change: %q, want again", got)
	}
	// Kept open: a longer file is read in full after a stat.
	fh, err := os.Open(doc)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	buf := make([]byte, 64)
	if n, err := fh.ReadAt(buf, 0); string(buf[:n]) != "again" {
		t.Fatalf("open file: %q, %v", buf[:n], err)
	}
	if err := os.WriteFile(src, []byte("longer text"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := fh.Stat(); err != nil {
		t.Fatal(err)
	}
	if n, _ := fh.ReadAt(buf, 0); string(buf[:n]) != "longer text" {
		t.Errorf("open file after the host grew it: %q, want %q", buf[:n], "longer text")
	}
}

// TestFUSEReadOnlyOpen: a read-only open of a writable document stays
// read-only, though the portal may open the real file read-write (one fd
// for itself and for FUSE passthrough).
func TestFUSEReadOnlyOpen(t *testing.T) {
	f, mnt := mountTest(t)
	src := filepath.Join(t.TempDir(), "r.txt")
	if err := os.WriteFile(src, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	id := addFile(t, f, src, map[string]Perm{"org.example.A": PermRead | PermWrite})
	fh, err := os.Open(filepath.Join(mnt, byAppName, "org.example.A", id, "r.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	if _, err := fh.WriteAt([]byte("gone"), 0); errnoOf(err) != syscall.EBADF {
		t.Errorf("write through a read-only open = %v, want EBADF", err)
	}
	lk := unix.Flock_t{Type: unix.F_WRLCK}
	if err := unix.FcntlFlock(fh.Fd(), unix.F_OFD_SETLK, &lk); err != unix.EBADF {
		t.Errorf("write lock on a read-only open = %v, want EBADF", err)
	}
	if b, _ := os.ReadFile(src); string(b) != "keep" {
		t.Errorf("file = %q, want keep", b)
	}
}
