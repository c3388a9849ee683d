package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/porthole-dev/porthole/store/object"
	"github.com/porthole-dev/porthole/store/storetest"
)

func sampleRepo(t *testing.T, mode Mode) (*Repo, object.Checksum) {
	t.Helper()
	dir := t.TempDir()
	tree := storetest.MakeTree(t, filepath.Join(dir, "tree"), storetest.TreeOptions{})
	repo, err := Init(context.Background(), filepath.Join(dir, "repo"), mode)
	must(t, err)
	t.Cleanup(func() { repo.Close() })
	return repo, ourCommit(t, repo, tree, "main", false)
}

// TestFsckNamesEveryCorruptObject flips one byte (or retargets a symlink
// object) in each object in turn: fsck reports exactly that object.
func TestFsckNamesEveryCorruptObject(t *testing.T) {
	ctx := context.Background()
	for _, mode := range []Mode{ModeArchive, ModeBareUser, ModeBareUserOnly} {
		t.Run(mode.String(), func(t *testing.T) {
			repo, _ := sampleRepo(t, mode)
			var names []object.ObjectName
			must(t, repo.ListObjects(ctx, func(n object.ObjectName) error { names = append(names, n); return nil }))
			if len(names) < 20 {
				t.Fatalf("only %d objects", len(names))
			}
			for _, n := range names {
				p := filepath.Join(repo.objectsDir(), repo.loosePath(n))
				restore := corrupt(t, p)
				res, err := Fsck(ctx, repo, FsckOptions{})
				must(t, err)
				if len(res.Corrupt) != 1 || res.Corrupt[0].Object != n {
					t.Errorf("corrupting %s: fsck found %v", n, res.Corrupt)
				} else if !errors.Is(res.Corrupt[0].Err, ErrCorrupt) {
					t.Errorf("corrupting %s: error %v does not wrap ErrCorrupt", n, res.Corrupt[0].Err)
				}
				restore()
			}
			res, err := Fsck(ctx, repo, FsckOptions{})
			must(t, err)
			if !res.OK() {
				t.Fatalf("restored repo: %+v", res)
			}
			// A missing object is named too, and --delete marks partial.
			var victim object.ObjectName
			for _, n := range names {
				if n.Type == object.TypeFile {
					victim = n
					break
				}
			}
			must(t, os.Remove(filepath.Join(repo.objectsDir(), repo.loosePath(victim))))
			res, err = Fsck(ctx, repo, FsckOptions{Delete: true})
			must(t, err)
			if len(res.Missing) != 1 || res.Missing[0].Object != victim || len(res.Partial) != 1 {
				t.Errorf("missing %s: fsck = %+v", victim, res)
			}
			// A ref to a missing commit is reported.
			ghost := object.Sum([]byte("ghost"))
			must(t, repo.SetRef(ctx, "", "ghost", &ghost))
			res, err = Fsck(ctx, repo, FsckOptions{})
			must(t, err)
			if len(res.BadRefs) != 1 || res.BadRefs[0] != "ghost" || res.OK() {
				t.Errorf("dangling ref: fsck = %+v", res)
			}
		})
	}
}

// corrupt damages the object file at p and returns a function undoing it.
func corrupt(t *testing.T, p string) func() {
	t.Helper()
	fi, err := os.Lstat(p)
	must(t, err)
	if fi.Mode()&os.ModeSymlink != 0 {
		target, err := os.Readlink(p)
		must(t, err)
		must(t, os.Remove(p))
		must(t, os.Symlink(target+"x", p))
		return func() { os.Remove(p); os.Symlink(target, p) }
	}
	data, err := os.ReadFile(p)
	must(t, err)
	if len(data) == 0 {
		// An empty content file (bare modes): add a byte.
		must(t, os.Chmod(p, fi.Mode().Perm()|0o200))
		must(t, os.WriteFile(p, []byte{1}, 0))
		return func() { os.Truncate(p, 0); os.Chmod(p, fi.Mode().Perm()) }
	}
	i := len(data) / 2
	bad := append([]byte{}, data...)
	bad[i] ^= 0xff
	must(t, os.Chmod(p, fi.Mode().Perm()|0o200))
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	must(t, err)
	_, err = f.WriteAt(bad[i:i+1], int64(i))
	must(t, err)
	f.Close()
	return func() {
		f, _ := os.OpenFile(p, os.O_WRONLY, 0)
		f.WriteAt(data[i:i+1], int64(i))
		f.Close()
		os.Chmod(p, fi.Mode().Perm())
	}
}

// plantCommit writes raw objects directly (as a hostile server could make
// a puller store them if it skipped validation) and points ref at a commit
// whose root is tree.
func plantCommit(t *testing.T, repo *Repo, tree []byte, ref string) object.Checksum {
	t.Helper()
	put := func(typ object.ObjectType, data []byte) object.Checksum {
		c := object.Sum(data)
		p := filepath.Join(repo.objectsDir(), repo.loosePath(object.ObjectName{Checksum: c, Type: typ}))
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, data, 0o644))
		return c
	}
	meta := put(object.TypeDirMeta, (&object.DirMeta{Mode: 040755}).Marshal())
	root := put(object.TypeDirTree, tree)
	cm := object.Commit{Subject: "hostile", RootTree: root, RootMeta: meta}
	c := put(object.TypeCommit, cm.Marshal())
	must(t, repo.SetRef(context.Background(), "", ref, &c))
	return c
}

func TestCheckoutRefusesHostileNames(t *testing.T) {
	ctx := context.Background()
	repo, good := sampleRepo(t, ModeArchive)
	// Reuse a real content object and the real dirmeta.
	data, _ := repo.ReadMetadata(ctx, object.TypeCommit, good)
	cm, _ := object.UnmarshalCommit(data)
	rootData, _ := repo.ReadMetadata(ctx, object.TypeDirTree, cm.RootTree)
	rt, _ := object.UnmarshalDirTree(rootData)
	file := rt.Files[0].Checksum
	sub := rt.Dirs[0]
	for _, name := range []string{"..", ".", "a/b", "", "a\x00b", "../../escape"} {
		for _, asDir := range []bool{false, true} {
			var tr object.DirTree
			if asDir {
				tr.Dirs = []object.TreeDir{{Name: name, Tree: sub.Tree, Meta: sub.Meta}}
			} else {
				tr.Files = []object.TreeFile{{Name: name, Checksum: file}}
			}
			plantCommit(t, repo, tr.Marshal(), "hostile")
			dest := filepath.Join(t.TempDir(), "co")
			err := Checkout(ctx, repo, "hostile", dest, CheckoutOptions{UserMode: true})
			if !errors.Is(err, ErrCorrupt) || !errors.Is(err, object.ErrInvalid) {
				t.Errorf("name %q (dir=%v): Checkout = %v, want ErrCorrupt+ErrInvalid", name, asDir, err)
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(dest), "escape")); err == nil {
				t.Errorf("name %q wrote outside the checkout", name)
			}
		}
	}
	// A name both a file and a directory is refused too.
	tr := object.DirTree{Files: []object.TreeFile{{Name: "x", Checksum: file}}, Dirs: []object.TreeDir{{Name: "x", Tree: sub.Tree, Meta: sub.Meta}}}
	plantCommit(t, repo, tr.Marshal(), "hostile")
	if err := Checkout(ctx, repo, "hostile", filepath.Join(t.TempDir(), "co"), CheckoutOptions{UserMode: true}); !errors.Is(err, object.ErrInvalid) {
		t.Errorf("file+dir with one name: Checkout = %v", err)
	}
	// Our fsck names the hostile dirtree.
	res, err := Fsck(ctx, repo, FsckOptions{})
	must(t, err)
	if len(res.Corrupt) == 0 {
		t.Errorf("fsck found no corrupt dirtree")
	}
}

func TestCheckoutSymlinkEscape(t *testing.T) {
	ctx := context.Background()
	for _, target := range []string{"ABS", "../outside", "../../outside"} {
		t.Run(target, func(t *testing.T) {
			dir := t.TempDir()
			outside := filepath.Join(dir, "outside")
			must(t, os.Mkdir(outside, 0o755))
			if target == "ABS" {
				target = outside
			}
			t1 := filepath.Join(dir, "t1")
			must(t, os.MkdirAll(t1, 0o755))
			must(t, os.Symlink(target, filepath.Join(t1, "evil")))
			t2 := filepath.Join(dir, "t2")
			must(t, os.MkdirAll(filepath.Join(t2, "evil"), 0o755))
			must(t, os.WriteFile(filepath.Join(t2, "evil", "pwned"), []byte("x"), 0o644))
			repo, err := Init(ctx, filepath.Join(dir, "repo"), ModeBareUserOnly)
			must(t, err)
			defer repo.Close()
			ourCommit(t, repo, t1, "one", false)
			ourCommit(t, repo, t2, "two", false)
			dest := filepath.Join(dir, "co", "dest")
			// The symlink object is checked out as a symlink.
			must(t, Checkout(ctx, repo, "one", dest, CheckoutOptions{UserMode: true}))
			if got, _ := os.Readlink(filepath.Join(dest, "evil")); got != target {
				t.Errorf("symlink target = %q", got)
			}
			// Writing the second commit through it is refused.
			err = Checkout(ctx, repo, "two", dest, CheckoutOptions{UserMode: true, Union: true})
			if !errors.Is(err, ErrEscape) {
				t.Errorf("union checkout through symlink: %v, want ErrEscape", err)
			}
			if ents, _ := os.ReadDir(outside); len(ents) != 0 {
				t.Errorf("checkout wrote outside: %v", ents)
			}
		})
	}
}

func TestTruncatedAndGarbageObjects(t *testing.T) {
	ctx := context.Background()
	repo, c := sampleRepo(t, ModeArchive)
	data, err := repo.ReadMetadata(ctx, object.TypeCommit, c)
	must(t, err)
	cm, _ := object.UnmarshalCommit(data)
	p := filepath.Join(repo.objectsDir(), repo.loosePath(object.ObjectName{Checksum: cm.RootTree, Type: object.TypeDirTree}))
	orig, err := os.ReadFile(p)
	must(t, err)
	for _, bad := range [][]byte{orig[:len(orig)/2], orig[:1], nil, []byte(strings.Repeat("\xff", 100)), append(append([]byte{}, orig...), 0)} {
		must(t, os.WriteFile(p, bad, 0o644))
		err := Checkout(ctx, repo, "main", filepath.Join(t.TempDir(), "co"), CheckoutOptions{UserMode: true})
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("dirtree of %d bytes: Checkout = %v, want ErrCorrupt", len(bad), err)
		}
	}
	must(t, os.WriteFile(p, orig, 0o644))
	// WriteMetadata refuses garbage and mismatches.
	if _, err := repo.WriteMetadata(ctx, object.TypeDirTree, orig[:10], nil); !errors.Is(err, ErrCorrupt) {
		t.Errorf("WriteMetadata(truncated) = %v", err)
	}
	var mm *ChecksumMismatchError
	wrong := object.Sum([]byte("x"))
	if _, err := repo.WriteMetadata(ctx, object.TypeDirTree, orig, &wrong); !errors.As(err, &mm) || !errors.Is(err, ErrCorrupt) {
		t.Errorf("WriteMetadata(wrong checksum) = %v", err)
	}
	// WriteArchivedContent refuses a damaged .filez without storing it.
	fz, err := repo.ReadArchivedContent(ctx, cm.RootTree) // not a file: not found
	if err == nil {
		fz.Close()
		t.Errorf("ReadArchivedContent(dirtree checksum) succeeded")
	}
}

func TestCheckoutSubpathFile(t *testing.T) {
	ctx := context.Background()
	for _, mode := range []Mode{ModeArchive, ModeBareUserOnly} {
		repo, _ := sampleRepo(t, mode)
		dest := filepath.Join(t.TempDir(), "out.txt")
		must(t, Checkout(ctx, repo, "main", dest, CheckoutOptions{UserMode: true, Subpath: "/a/b/c/d/deep.txt"}))
		if b, err := os.ReadFile(dest); err != nil || string(b) != "deep\n" {
			t.Errorf("%s: subpath file = %q, %v", mode, b, err)
		}
		if err := Checkout(ctx, repo, "main", filepath.Join(t.TempDir(), "x"), CheckoutOptions{UserMode: true, Subpath: "/nope"}); !errors.Is(err, ErrObjectNotFound) {
			t.Errorf("missing subpath: %v", err)
		}
	}
}
