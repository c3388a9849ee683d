package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/porthole-dev/porthole/internal/gvariant"
	"github.com/porthole-dev/porthole/store"
	"github.com/porthole-dev/porthole/store/object"
)

type lsOpts struct {
	recursive, checksum, xattrs, dirOnly bool
}

func runStoreLs(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, repoPath := newStoreFlags("ls", stderr)
	var o lsOpts
	fs.BoolVar(&o.recursive, "R", false, "list recursively")
	fs.BoolVar(&o.recursive, "recursive", false, "list recursively")
	fs.BoolVar(&o.checksum, "C", false, "show object checksums")
	fs.BoolVar(&o.checksum, "checksum", false, "show object checksums")
	fs.BoolVar(&o.xattrs, "X", false, "show extended attributes")
	fs.BoolVar(&o.xattrs, "xattrs", false, "show extended attributes")
	fs.BoolVar(&o.dirOnly, "d", false, "only list the directory itself")
	fs.BoolVar(&o.dirOnly, "dironly", false, "only list the directory itself")
	pos, ok := parseStoreFlags(fs, args, stderr)
	if !ok {
		return 1
	}
	if len(pos) < 1 {
		return storeFail(stderr, errors.New("usage: ls COMMIT [PATH…]"))
	}
	repo, err := openStoreRepo(ctx, *repoPath)
	if err != nil {
		return storeFail(stderr, err)
	}
	defer repo.Close()
	c, err := repo.ResolveRef(ctx, pos[0])
	if err != nil {
		return storeFail(stderr, err)
	}
	cm, err := loadCommit(ctx, repo, c)
	if err != nil {
		return storeFail(stderr, err)
	}
	paths := pos[1:]
	if len(paths) == 0 {
		paths = []string{"/"}
	}
	for _, p := range paths {
		e, err := lookupPath(ctx, repo, &cm, p)
		if err != nil {
			return storeFail(stderr, err)
		}
		if err := lsEntry(ctx, repo, stdout, e, o, true); err != nil {
			return storeFail(stderr, err)
		}
	}
	return 0
}

// treeEntry is a file or directory found in a commit.
type treeEntry struct {
	path       string
	isDir      bool
	tree, meta object.Checksum // dirs
	file       object.Checksum // files
}

// lookupPath finds p ("/a/b") in the commit.
func lookupPath(ctx context.Context, repo *store.Repo, cm *object.Commit, p string) (treeEntry, error) {
	e := treeEntry{path: "/", isDir: true, tree: cm.RootTree, meta: cm.RootMeta}
	clean := strings.Trim(path.Clean("/"+p), "/")
	if clean == "" {
		return e, nil
	}
	for _, comp := range strings.Split(clean, "/") {
		if !e.isDir {
			return e, fmt.Errorf("%s: not a directory", e.path)
		}
		t, err := readTree(ctx, repo, e.tree)
		if err != nil {
			return e, err
		}
		next := path.Join(e.path, comp)
		found := false
		for _, d := range t.Dirs {
			if d.Name == comp {
				e, found = treeEntry{path: next, isDir: true, tree: d.Tree, meta: d.Meta}, true
			}
		}
		for _, f := range t.Files {
			if f.Name == comp {
				e, found = treeEntry{path: next, file: f.Checksum}, true
			}
		}
		if !found {
			return e, fmt.Errorf("no such file or directory: %s", next)
		}
	}
	return e, nil
}

func readTree(ctx context.Context, repo *store.Repo, c object.Checksum) (object.DirTree, error) {
	data, err := repo.ReadMetadata(ctx, object.TypeDirTree, c)
	if err != nil {
		return object.DirTree{}, err
	}
	return object.UnmarshalDirTree(data)
}

func lsEntry(ctx context.Context, repo *store.Repo, w io.Writer, e treeEntry, o lsOpts, top bool) error {
	if err := lsPrint(ctx, repo, w, e, o); err != nil {
		return err
	}
	if !e.isDir || o.dirOnly || (!top && !o.recursive) {
		return nil
	}
	t, err := readTree(ctx, repo, e.tree)
	if err != nil {
		return err
	}
	// ostree lists files before directories, each in name order.
	for _, f := range t.Files {
		if err := lsEntry(ctx, repo, w, treeEntry{path: path.Join(e.path, f.Name), file: f.Checksum}, o, false); err != nil {
			return err
		}
	}
	for _, d := range t.Dirs {
		if err := lsEntry(ctx, repo, w, treeEntry{path: path.Join(e.path, d.Name), isDir: true, tree: d.Tree, meta: d.Meta}, o, false); err != nil {
			return err
		}
	}
	return nil
}

func lsPrint(ctx context.Context, repo *store.Repo, w io.Writer, e treeEntry, o lsOpts) error {
	var uid, gid, mode uint32
	var size uint64
	var xs []object.Xattr
	var target string
	var typ byte
	if e.isDir {
		data, err := repo.ReadMetadata(ctx, object.TypeDirMeta, e.meta)
		if err != nil {
			return err
		}
		m, err := object.UnmarshalDirMeta(data)
		if err != nil {
			return err
		}
		uid, gid, mode, xs, typ = m.UID, m.GID, m.Mode, m.Xattrs, 'd'
	} else {
		h, rc, err := repo.OpenContent(ctx, e.file)
		if err != nil {
			return err
		}
		rc.Close()
		uid, gid, mode, xs, size = h.UID, h.GID, h.Mode, h.Xattrs, h.Size
		typ = '-'
		if h.IsSymlink() {
			typ, target = 'l', h.SymlinkTarget
		}
	}
	fmt.Fprintf(w, "%c0%04o %d %d %6d ", typ, mode&0o7777, uid, gid, size)
	if o.checksum {
		if e.isDir {
			fmt.Fprintf(w, "%s %s ", e.tree, e.meta)
		} else {
			fmt.Fprintf(w, "%s ", e.file)
		}
	}
	if o.xattrs {
		fmt.Fprintf(w, "{ %s } ", xattrText(xs))
	}
	fmt.Fprint(w, e.path)
	if target != "" {
		fmt.Fprintf(w, " -> %s", target)
	}
	fmt.Fprintln(w)
	return nil
}

// xattrText prints xattrs as g_variant_print(v, TRUE) does, as ostree ls -X
// shows them: annotations only where the type is not yet known, that is on
// the first element.
func xattrText(xs []object.Xattr) string {
	if len(xs) == 0 {
		return "@a(ayay) []"
	}
	parts := make([]string, len(xs))
	for i, x := range xs {
		name := gvariant.Bytes(append([]byte(x.Name), 0)).String()
		val := gvariant.Bytes(x.Value).String()
		if i == 0 {
			switch {
			case val == "[]":
				val = "@ay []"
			case strings.HasPrefix(val, "[0x"):
				val = "[byte " + val[1:]
			}
		}
		parts[i] = "(" + name + ", " + val + ")"
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
