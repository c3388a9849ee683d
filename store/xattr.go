package store

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/porthole-dev/porthole/store/object"
	"golang.org/x/sys/unix"
)

// listXattrs reads all extended attributes of path (not following a
// symlink when nofollow), sorted by name as ostree stores them.
func listXattrs(path string, nofollow bool) ([]object.Xattr, error) {
	list, get := unix.Listxattr, unix.Getxattr
	if nofollow {
		list, get = unix.Llistxattr, unix.Lgetxattr
	}
	var names []byte
	for size := 1024; ; size *= 4 {
		buf := make([]byte, size)
		n, err := list(path, buf)
		if errors.Is(err, unix.ERANGE) {
			continue
		}
		if errors.Is(err, unix.ENOTSUP) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("listing xattrs of %s: %w", path, err)
		}
		names = buf[:n]
		break
	}
	var xs []object.Xattr
	for _, name := range bytes.Split(names, []byte{0}) {
		if len(name) == 0 {
			continue
		}
		for size := 256; ; size *= 4 {
			buf := make([]byte, size)
			n, err := get(path, string(name), buf)
			if errors.Is(err, unix.ERANGE) {
				continue
			}
			if errors.Is(err, unix.ENODATA) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("reading xattr %s of %s: %w", name, path, err)
			}
			xs = append(xs, object.Xattr{Name: string(name), Value: buf[:n]})
			break
		}
	}
	object.SortXattrs(xs)
	return xs, nil
}
