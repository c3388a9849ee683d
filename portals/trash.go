package portals

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/godbus/dbus/v5"
	"golang.org/x/sys/unix"
)

type trashPortal struct{ s *Server }

// TrashFile is org.freedesktop.portal.Trash.TrashFile: 1 when the file
// was moved to the trash, 0 otherwise.
func (p trashPortal) TrashFile(msg dbus.Message, h dbus.UnixFDIndex) (uint32, *dbus.Error) {
	fd, ok := p.s.bus.TakeFD(h)
	if !ok {
		return 0, DBusError(wrapf(ErrInvalidArgument, "Invalid file descriptor"))
	}
	defer unix.Close(fd)
	_, app, err := p.s.appInfo(&msg)
	if err != nil {
		return 0, DBusError(err)
	}
	path, writable, err := pathForFD(app, fd)
	if err != nil || !writable {
		return 0, nil
	}
	if err := trashPath(path); err != nil {
		p.s.log.Debug("trash failed", "path", path, "err", err)
		return 0, nil
	}
	return 1, nil
}

// trashPath moves path to the trash of its file system as the freedesktop
// trash specification describes: the home trash when path lives on the
// same file system as $XDG_DATA_HOME, else $topdir/.Trash-$uid.
func trashPath(path string) error {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return err
	}
	dataHome := os.Getenv("XDG_DATA_HOME")
	if dataHome == "" {
		home, _ := os.UserHomeDir()
		dataHome = filepath.Join(home, ".local", "share")
	}
	trash := filepath.Join(dataHome, "Trash")
	_ = os.MkdirAll(dataHome, 0o700)
	var hst unix.Stat_t
	if unix.Stat(dataHome, &hst) != nil || hst.Dev != st.Dev {
		top, err := mountTop(path, st.Dev)
		if err != nil {
			return err
		}
		trash = filepath.Join(top, ".Trash-"+strconv.Itoa(os.Getuid()))
	}
	files, info := filepath.Join(trash, "files"), filepath.Join(trash, "info")
	if err := os.MkdirAll(files, 0o700); err != nil {
		return err
	}
	if err := os.MkdirAll(info, 0o700); err != nil {
		return err
	}
	base := filepath.Base(path)
	for i := 0; i < 1000; i++ {
		name := base
		if i > 0 {
			ext := filepath.Ext(base)
			name = fmt.Sprintf("%s.%d%s", strings.TrimSuffix(base, ext), i, ext)
		}
		infoPath := filepath.Join(info, name+".trashinfo")
		f, err := os.OpenFile(infoPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return err
		}
		u := (&url.URL{Path: path}).EscapedPath()
		_, err = fmt.Fprintf(f, "[Trash Info]\nPath=%s\nDeletionDate=%s\n", u, time.Now().Format("2006-01-02T15:04:05"))
		f.Close()
		if err != nil {
			os.Remove(infoPath)
			return err
		}
		if err := os.Rename(path, filepath.Join(files, name)); err != nil {
			os.Remove(infoPath)
			return err
		}
		return nil
	}
	return errors.New("no free name in the trash")
}

// mountTop returns the top directory of the file system holding path.
func mountTop(path string, dev uint64) (string, error) {
	dir := filepath.Dir(path)
	for dir != "/" {
		parent := filepath.Dir(dir)
		var st unix.Stat_t
		if err := unix.Stat(parent, &st); err != nil || st.Dev != dev {
			return dir, nil
		}
		dir = parent
	}
	return "/", nil
}
