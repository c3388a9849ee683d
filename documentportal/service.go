package documentportal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/introspect"
	"github.com/godbus/dbus/v5/prop"

	"github.com/porthole-dev/porthole/internal/busconn"
)

// Bus names, paths and interfaces served.
const (
	BusName        = "org.freedesktop.portal.Documents"
	ObjectPath     = dbus.ObjectPath("/org/freedesktop/portal/documents")
	DocumentsIface = "org.freedesktop.portal.Documents"
	TransferIface  = "org.freedesktop.portal.FileTransfer"

	documentsVersion = 5
	transferVersion  = 1
)

// Options configure Run.
type Options struct {
	// Address of the bus; empty means the session bus.
	Address string
	// MountPoint defaults to $XDG_RUNTIME_DIR/doc.
	MountPoint string
	// Replace takes the bus name over from a running portal.
	Replace bool
	// Logger, nil discards.
	Logger *slog.Logger
	// Ready, if set, is called once the name is owned and the file system
	// mounted.
	Ready func()
}

// ErrUnmounted reports that the file system was unmounted from outside.
var ErrUnmounted = errors.New("file system unmounted externally")

// Service is a running document portal.
type Service struct {
	conn    *dbus.Conn
	log     *slog.Logger
	mount   string
	db      *db
	fs      *FS
	store   *busStore
	callers *callers
	xfers   *transfers
	claims  *fdClaims

	ready     chan struct{}
	readyOnce sync.Once
}

// Run serves the document portal until ctx is done (nil error), the bus
// name is lost (ErrNameTaken) or the mount goes away (ErrUnmounted). The
// file system is unmounted before it returns.
func Run(ctx context.Context, opts Options) error {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	mount := opts.MountPoint
	if mount == "" {
		rt := os.Getenv("XDG_RUNTIME_DIR")
		if rt == "" {
			rt = filepath.Join(os.TempDir(), fmt.Sprintf("xdg-runtime-%d", os.Getuid()))
		}
		mount = filepath.Join(rt, "doc")
	}
	bus, err := busconn.Dial(ctx, opts.Address, busconn.Options{})
	if err != nil {
		return err
	}
	defer bus.Close()
	conn, claims := bus.Conn, &fdClaims{bus}

	s := &Service{conn: conn, log: log, mount: mount, ready: make(chan struct{}), claims: claims}
	s.store = &busStore{conn: conn, log: log}
	s.db = newDB(s.store)
	s.callers = &callers{conn: conn, testID: os.Getenv(TestAppIDEnv), cache: map[string]*caller{}}
	s.xfers = &transfers{s: s, m: map[string]*transfer{}}
	s.fs = newFS(s.db, log)

	loadCtx, cancel := context.WithTimeout(ctx, 25*time.Second)
	entries, err := s.store.load(loadCtx)
	cancel()
	if err != nil {
		log.Warn("starting without stored documents", "err", err)
	}
	s.db.load(entries)

	sigs := make(chan *dbus.Signal, 64)
	conn.Signal(sigs)
	if err := conn.AddMatchSignal(dbus.WithMatchInterface("org.freedesktop.DBus"), dbus.WithMatchMember("NameOwnerChanged")); err != nil {
		return fmt.Errorf("watching bus names: %w", err)
	}
	if err := s.export(); err != nil {
		return err
	}
	flags := dbus.NameFlagAllowReplacement | dbus.NameFlagDoNotQueue
	if opts.Replace {
		flags |= dbus.NameFlagReplaceExisting
	}
	reply, err := conn.RequestName(BusName, flags)
	if err != nil {
		return fmt.Errorf("requesting %s: %w", BusName, err)
	}
	if reply != dbus.RequestNameReplyPrimaryOwner {
		return fmt.Errorf("%w: %s", ErrNameTaken, BusName)
	}
	if err := s.fs.Mount(mount); err != nil {
		return err
	}
	defer s.fs.Unmount(mount)
	s.readyOnce.Do(func() { close(s.ready) })
	log.Debug("serving", "mount", mount)
	if opts.Ready != nil {
		opts.Ready()
	}
	unmounted := make(chan struct{})
	go func() { s.fs.server.Wait(); close(unmounted) }()

	defer s.store.flush(5 * time.Second)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-unmounted:
			return ErrUnmounted
		case sig, ok := <-sigs:
			if !ok {
				return fmt.Errorf("bus connection closed")
			}
			switch sig.Name {
			case "org.freedesktop.DBus.NameLost":
				if len(sig.Body) > 0 && sig.Body[0] == BusName {
					return fmt.Errorf("%w: %s lost", ErrNameTaken, BusName)
				}
			case "org.freedesktop.DBus.NameOwnerChanged":
				if len(sig.Body) == 3 {
					name, _ := sig.Body[0].(string)
					newOwner, _ := sig.Body[2].(string)
					if newOwner == "" && name != "" && name[0] == ':' {
						s.callers.forget(name)
						s.xfers.stopForSender(name)
					}
				}
			}
		}
	}
}

func (s *Service) export() error {
	docs := &documents{s: s}
	if err := s.conn.Export(docs, ObjectPath, DocumentsIface); err != nil {
		return fmt.Errorf("exporting %s: %w", DocumentsIface, err)
	}
	ft := &fileTransfer{s: s}
	if err := s.conn.Export(ft, ObjectPath, TransferIface); err != nil {
		return fmt.Errorf("exporting %s: %w", TransferIface, err)
	}
	_, err := prop.Export(s.conn, ObjectPath, prop.Map{
		DocumentsIface: {"version": {Value: uint32(documentsVersion), Emit: prop.EmitFalse}},
		TransferIface:  {"version": {Value: uint32(transferVersion), Emit: prop.EmitFalse}},
	})
	if err != nil {
		return fmt.Errorf("exporting properties: %w", err)
	}
	if err := s.conn.Export(introspect.Introspectable(IntrospectXML), ObjectPath, "org.freedesktop.DBus.Introspectable"); err != nil {
		return fmt.Errorf("exporting introspection: %w", err)
	}
	return nil
}

// waitReady blocks until the file system is mounted.
func (s *Service) waitReady() { <-s.ready }
