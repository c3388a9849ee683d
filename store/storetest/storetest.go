// Package storetest has helpers for tests of store and of its users: a
// tree builder covering the cases OSTree treats specially, a tree
// comparison, and helpers to run the real ostree binary.
//
// Glossary:
//   - Sample tree: regular, executable, empty and large (>64 KiB) files,
//     symlinks (relative, absolute, dangling), empty and nested
//     directories, non-ASCII names, optionally user.* xattrs.
//   - Tree compare: a walk of two directories checking type, permission
//     bits, content, symlink target and (optionally) user.* xattrs and
//     ownership.
package storetest

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TreeOptions select optional parts of the sample tree.
type TreeOptions struct {
	// Xattrs adds user.* xattrs to some files and a directory.
	Xattrs bool
	// Variant changes a few files so trees made with different variants
	// share most content (for dedupe tests).
	Variant int
}

// MakeTree writes the sample tree into dir (created) and returns dir.
func MakeTree(t testing.TB, dir string, opts TreeOptions) string {
	t.Helper()
	mk := func(p string, perm os.FileMode) {
		if err := os.MkdirAll(filepath.Join(dir, p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(dir, p), perm); err != nil {
			t.Fatal(err)
		}
	}
	file := func(p string, data []byte, perm os.FileMode) {
		full := filepath.Join(dir, p)
		if err := os.WriteFile(full, data, perm); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(full, perm); err != nil {
			t.Fatal(err)
		}
	}
	link := func(p, target string) {
		if err := os.Symlink(target, filepath.Join(dir, p)); err != nil {
			t.Fatal(err)
		}
	}
	mk("", 0o755)
	mk("empty-dir", 0o755)
	mk("a/b/c/d", 0o755)
	mk("private", 0o700)
	mk("ünïcødé-dïr", 0o755)
	mk("many", 0o755)
	file("hello.txt", []byte("hello\n"), 0o644)
	file("run.sh", []byte("#!/bin/sh\necho hi\n"), 0o755)
	file("empty", nil, 0o644)
	file("a/b/c/d/deep.txt", []byte("deep\n"), 0o644)
	file("a/b/same.txt", []byte("hello\n"), 0o644) // same content as hello.txt
	file("private/secret", []byte("s3cret"), 0o600)
	file("ünïcødé-dïr/файл.txt", []byte("unicode\n"), 0o644)
	file("日本語", []byte("japanese\n"), 0o640)
	big := make([]byte, 200<<10)
	for i := range big {
		big[i] = byte(i*7 + i/251)
	}
	file("big.bin", big, 0o644)
	compressible := bytes.Repeat([]byte("porthole ostree "), 8<<10)
	file("a/compressible.txt", compressible, 0o664)
	link("link", "hello.txt")
	link("a/up", "../hello.txt")
	link("abs", "/etc/hostname")
	link("dangling", "does/not/exist")
	link("dirlink", "a/b")
	for i := 0; i < 20; i++ {
		file(fmt.Sprintf("many/file-%02d", i), []byte(fmt.Sprintf("file %d\n", i)), 0o644)
	}
	if opts.Variant != 0 {
		file("hello.txt", []byte(fmt.Sprintf("hello, variant %d\n", opts.Variant)), 0o644)
		file(fmt.Sprintf("many/new-%d", opts.Variant), []byte("new\n"), 0o644)
		mk(fmt.Sprintf("variant-%d", opts.Variant), 0o755)
		if err := os.Remove(filepath.Join(dir, "many/file-03")); err != nil {
			t.Fatal(err)
		}
	}
	if opts.Xattrs {
		set := func(p, name, val string) {
			if err := unix.Lsetxattr(filepath.Join(dir, p), name, []byte(val), 0); err != nil {
				t.Fatalf("setting xattr on %s: %v", p, err)
			}
		}
		set("hello.txt", "user.test", "abc")
		set("hello.txt", "user.a", "1")
		set("run.sh", "user.bin", "\x00\x01\xff")
		set("a/b", "user.dir", "yes")
	}
	return dir
}

// CompareOptions select what CompareTrees checks beyond type, permission
// bits, content and symlink targets.
type CompareOptions struct {
	Xattrs bool // compare user.* xattrs (user.ostreemeta ignored)
	Owner  bool // compare uid/gid
	// PermMask limits the permission bits compared (0 means 07777).
	PermMask uint32
}

// CompareTrees reports every difference between the trees a and b.
func CompareTrees(t testing.TB, a, b string, opts CompareOptions) {
	t.Helper()
	ea, err := walk(a, opts)
	if err != nil {
		t.Fatal(err)
	}
	eb, err := walk(b, opts)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for n := range ea {
		names = append(names, n)
	}
	for n := range eb {
		if _, ok := ea[n]; !ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	bad := 0
	for _, n := range names {
		x, y := ea[n], eb[n]
		if x != y {
			bad++
			if bad <= 20 {
				t.Errorf("%s:\n  %s: %q\n  %s: %q", n, a, x, b, y)
			}
		}
	}
	if bad > 20 {
		t.Errorf("... %d differences in all", bad)
	}
}

func walk(root string, opts CompareOptions) (map[string]string, error) {
	mask := opts.PermMask
	if mask == 0 {
		mask = 0o7777
	}
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		var desc strings.Builder
		fmt.Fprintf(&desc, "type=%o", st.Mode&unix.S_IFMT)
		if st.Mode&unix.S_IFMT != unix.S_IFLNK {
			fmt.Fprintf(&desc, " perm=%04o", st.Mode&mask)
		}
		if opts.Owner {
			fmt.Fprintf(&desc, " owner=%d:%d", st.Uid, st.Gid)
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(&desc, " size=%d content=%x", len(data), hash(data))
		case unix.S_IFLNK:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(&desc, " target=%q", target)
		}
		if opts.Xattrs && st.Mode&unix.S_IFMT != unix.S_IFLNK {
			fmt.Fprintf(&desc, " xattrs=%s", userXattrs(p))
		}
		out[rel] = desc.String()
		return nil
	})
	return out, err
}

func hash(b []byte) uint64 {
	var h uint64 = 14695981039346656037
	for _, c := range b {
		h = (h ^ uint64(c)) * 1099511628211
	}
	return h
}

func userXattrs(p string) string {
	buf := make([]byte, 64<<10)
	n, err := unix.Llistxattr(p, buf)
	if err != nil {
		return "?"
	}
	var parts []string
	for _, name := range strings.Split(string(buf[:n]), "\x00") {
		if !strings.HasPrefix(name, "user.") || name == "user.ostreemeta" {
			continue
		}
		v := make([]byte, 64<<10)
		m, err := unix.Lgetxattr(p, name, v)
		if err != nil {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s=%x", name, v[:m]))
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// Ostree runs the real ostree binary and returns its trimmed stdout,
// failing the test on error.
func Ostree(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.Command("ostree", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ostree %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// ObjectSet lists the loose object files of a repository (relative paths
// under objects/), sorted.
func ObjectSet(t testing.TB, repo string) []string {
	t.Helper()
	var out []string
	root := filepath.Join(repo, "objects")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}
