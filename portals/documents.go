package portals

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/godbus/dbus/v5"
	"golang.org/x/sys/unix"
)

// DocumentExporter makes a host file available to a sandboxed app and
// returns the URI the app sees. The frontend uses the document portal on
// the bus; tests may plug in their own.
type DocumentExporter interface {
	ExportDocument(ctx context.Context, uri, appID string, flags DocFlags) (string, error)
}

// DocFlags say how a file is exported to an app.
type DocFlags uint32

// Document export flags.
const (
	DocWritable DocFlags = 1 << iota
	DocForSave
	DocDirectory
	DocDeletable
)

// ErrNoDocumentPortal means org.freedesktop.portal.Documents is not on the
// bus; files cannot be handed to sandboxed apps.
var ErrNoDocumentPortal = errors.New("document portal not available")

const (
	docBusName = "org.freedesktop.portal.Documents"
	docPath    = dbus.ObjectPath("/org/freedesktop/portal/documents")
	docIface   = "org.freedesktop.portal.Documents"
)

// busDocuments talks to org.freedesktop.portal.Documents.
type busDocuments struct {
	conn *dbus.Conn
	lend func(fd int) dbus.UnixFDIndex // busconn.Conn.LendFD

	once  sync.Once
	mount string
}

func (d *busDocuments) mountPoint(ctx context.Context) (string, error) {
	var err error
	d.once.Do(func() {
		var b []byte
		err = d.conn.Object(docBusName, docPath).CallWithContext(ctx, docIface+".GetMountPoint", 0).Store(&b)
		if err == nil {
			d.mount = strings.TrimRight(string(b), "\x00")
		}
	})
	if d.mount == "" {
		if err == nil {
			err = ErrNoDocumentPortal
		}
		d.once = sync.Once{}
		return "", fmt.Errorf("%w: %v", ErrNoDocumentPortal, err)
	}
	return d.mount, nil
}

// ExportDocument registers uri with the document portal for appID with
// AddFull / AddNamedFull (reuse-existing, persistent, as-needed-by-app).
func (d *busDocuments) ExportDocument(ctx context.Context, uri, appID string, flags DocFlags) (string, error) {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "file" {
		return "", fmt.Errorf("%w: not a file URI: %s", ErrInvalidArgument, uri)
	}
	path := u.Path
	if _, err := d.mountPoint(ctx); err != nil {
		return "", err
	}
	open := path
	if flags&DocForSave != 0 {
		open = filepath.Dir(path)
	}
	fd, err := unix.Open(open, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("opening %s: %w", open, err)
	}
	defer unix.Close(fd)
	perms := []string{"read"}
	if flags&(DocWritable|DocForSave) != 0 {
		perms = append(perms, "write")
	}
	perms = append(perms, "grant-permissions")
	if flags&DocDeletable != 0 {
		perms = append(perms, "delete")
	}
	addFlags := uint32(1 | 2 | 4) // reuse-existing, persistent, as-needed-by-app
	if flags&DocDirectory != 0 {
		addFlags |= 8
	}
	obj := d.conn.Object(docBusName, docPath)
	var id string
	if flags&DocForSave != 0 {
		var extra map[string]dbus.Variant
		err = obj.CallWithContext(ctx, docIface+".AddNamedFull", 0, d.lend(fd), append([]byte(filepath.Base(path)), 0), addFlags, appID, perms).Store(&id, &extra)
	} else {
		var ids []string
		var extra map[string]dbus.Variant
		err = obj.CallWithContext(ctx, docIface+".AddFull", 0, []dbus.UnixFDIndex{d.lend(fd)}, addFlags, appID, perms).Store(&ids, &extra)
		if len(ids) > 0 {
			id = ids[0]
		}
	}
	if err != nil {
		return "", fmt.Errorf("exporting %s: %w", path, err)
	}
	if id == "" {
		return uri, nil // the app can already see the file
	}
	docMount := "/run/flatpak/doc"
	return (&url.URL{Scheme: "file", Path: filepath.Join(docMount, id, filepath.Base(path))}).String(), nil
}

// docPathID reports whether p lies in a document portal mount and returns
// the document id.
func docPathID(p string) (string, bool) {
	for _, m := range []string{"/run/flatpak/doc/", filepath.Join(os.Getenv("XDG_RUNTIME_DIR"), "doc") + "/"} {
		if rest, ok := strings.CutPrefix(p, m); ok {
			id, _, _ := strings.Cut(rest, "/")
			if id != "" && id != "by-app" {
				return id, true
			}
		}
	}
	return "", false
}

// hostPathOfDoc asks the document portal for the host path of a document.
func (d *busDocuments) hostPathOfDoc(ctx context.Context, id string) (string, bool) {
	obj := d.conn.Object(docBusName, docPath)
	var paths map[string][]byte
	if err := obj.CallWithContext(ctx, docIface+".GetHostPaths", 0, []string{id}).Store(&paths); err == nil {
		p, ok := paths[id]
		return strings.TrimRight(string(p), "\x00"), ok
	}
	// Before version 5 only Info (for host callers, as we are) tells it.
	var path []byte
	var perms map[string][]string
	if err := obj.CallWithContext(ctx, docIface+".Info", 0, id).Store(&path, &perms); err != nil {
		return "", false
	}
	return strings.TrimRight(string(path), "\x00"), true
}

// realPathOfDocPath maps a path inside the document portal's mount to the
// host path it exports; other paths are returned unchanged.
func (d *busDocuments) realPathOfDocPath(ctx context.Context, p string) string {
	id, ok := docPathID(p)
	if !ok {
		return p
	}
	host, ok := d.hostPathOfDoc(ctx, id)
	if !ok || host == "" {
		return p
	}
	// p is MOUNT/ID/NAME[/REST]; NAME is the exported file or directory.
	i := strings.Index(p, "/"+id+"/")
	rest := p[i+len(id)+2:]
	if _, after, found := strings.Cut(rest, "/"); found {
		return filepath.Join(host, after)
	}
	return host
}
