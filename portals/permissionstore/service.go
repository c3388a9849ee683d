package permissionstore

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/introspect"
	"github.com/godbus/dbus/v5/prop"

	"github.com/porthole-dev/porthole/internal/busconn"
)

// D-Bus names of the service.
const (
	BusName       = "org.freedesktop.impl.portal.PermissionStore"
	ObjectPath    = dbus.ObjectPath("/org/freedesktop/impl/portal/PermissionStore")
	InterfaceName = "org.freedesktop.impl.portal.PermissionStore"
	// Version is the interface version the store implements.
	Version = uint32(2)
)

// methodSignatures are the in-signatures of the interface's methods; the
// interceptor sequences only calls that godbus will hand to a handler.
var methodSignatures = map[string]string{
	"Lookup":           "ss",
	"Set":              "sbsa{sas}v",
	"Delete":           "ss",
	"SetValue":         "sbsv",
	"SetPermission":    "sbssas",
	"DeletePermission": "sss",
	"GetPermission":    "sss",
	"List":             "s",
}

// Service is a Store exported on a bus connection.
type Service struct {
	store *Store
	seq   *sequencer
	rec   *recorder // raw bodies of Set/SetValue calls; nil when not recording
	conn  *dbus.Conn
	opMu  sync.Mutex     // makes each change and its signal atomic
	calls sync.WaitGroup // calls in progress, for a clean shutdown
}

// NewService returns a service for store. Connect the bus with
// Interceptor as its incoming interceptor, then call Export.
func NewService(store *Store) *Service {
	return &Service{store: store, seq: newSequencer()}
}

// Interceptor is the dbus.WithIncomingInterceptor hook that records the
// order of incoming calls. It runs in the connection's reader goroutine.
func (sv *Service) Interceptor(msg *dbus.Message) {
	if msg.Type != dbus.TypeMethodCall {
		return
	}
	path, _ := msg.Headers[dbus.FieldPath].Value().(dbus.ObjectPath)
	iface, _ := msg.Headers[dbus.FieldInterface].Value().(string)
	member, _ := msg.Headers[dbus.FieldMember].Value().(string)
	// Calls without an interface are left unsequenced: godbus may route
	// them to another interface's method of the same name (Properties.Set),
	// and a ticket whose handler never runs would hold up later calls.
	if path != ObjectPath || iface != InterfaceName {
		return
	}
	want, ok := methodSignatures[member]
	if !ok {
		return
	}
	var sig string
	if s, ok := msg.Headers[dbus.FieldSignature].Value().(dbus.Signature); ok {
		sig = s.String()
	}
	if sig != want {
		return
	}
	sender, _ := msg.Headers[dbus.FieldSender].Value().(string)
	sv.seq.issue(sender, msg.Serial())
}

// Export publishes the object, its version property, introspection data
// and the Changed signal on conn.
func (sv *Service) Export(conn *dbus.Conn) error {
	sv.conn = conn
	sv.store.emit = func(tableName, id string, deleted bool, data dbus.Variant, perms map[string][]string) {
		if err := conn.Emit(ObjectPath, InterfaceName+".Changed", tableName, id, deleted, data, perms); err != nil {
			sv.store.log.Warn("cannot emit Changed", "err", err)
		}
	}
	if err := conn.Export((*methods)(sv), ObjectPath, InterfaceName); err != nil {
		return fmt.Errorf("exporting %s: %w", InterfaceName, err)
	}
	_, err := prop.Export(conn, ObjectPath, prop.Map{
		InterfaceName: {"version": {Value: Version, Writable: false, Emit: prop.EmitConst}},
	})
	if err != nil {
		return fmt.Errorf("exporting properties: %w", err)
	}
	node := &introspect.Node{
		Name: string(ObjectPath),
		Interfaces: []introspect.Interface{
			introspect.IntrospectData,
			prop.IntrospectData,
			{Name: "org.freedesktop.DBus.Peer", Methods: []introspect.Method{
				{Name: "Ping"},
				{Name: "GetMachineId", Args: []introspect.Arg{{Name: "machine_uuid", Type: "s", Direction: "out"}}},
			}},
			Introspection(),
		},
	}
	return conn.Export(introspect.NewIntrospectable(node), ObjectPath, "org.freedesktop.DBus.Introspectable")
}

// Wait blocks until the calls in progress have replied, or d elapsed.
func (sv *Service) Wait(d time.Duration) {
	done := make(chan struct{})
	go func() { sv.calls.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
	}
}

// Options configure Run.
type Options struct {
	// Dir holds the table files, normally $XDG_DATA_HOME/flatpak/db.
	Dir string
	// Address of the bus; empty means the session bus.
	Address string
	// Replace takes the bus name over from a running store.
	Replace bool
	// Logger, nil discards.
	Logger *slog.Logger
	// Ready, if set, is called once the bus name is owned.
	Ready func()
}

// Run serves the permission store until ctx is done (nil error) or the bus
// name is lost (ErrNameTaken). Like xdg-permission-store it allows another
// store to replace it.
func Run(ctx context.Context, opts Options) error {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	sv := NewService(NewStore(opts.Dir, log))
	connOpts := []dbus.ConnOption{dbus.WithIncomingInterceptor(sv.Interceptor), dbus.WithContext(ctx)}
	// The recorder keeps raw call bodies (to keep the order of
	// dictionaries in stored data); calls it missed (a bus without a unix
	// socket) fall back to godbus's decoded values.
	rec := newRecorder()
	rec.authed = true // busconn passes on whole messages only
	sv.rec = rec
	bus, err := busconn.Dial(ctx, opts.Address, busconn.Options{ConnOptions: connOpts, Observe: rec.feed})
	if err != nil {
		return err
	}
	conn := bus.Conn
	defer conn.Close()
	if err := sv.Export(conn); err != nil {
		return err
	}
	lost := make(chan *dbus.Signal, 4)
	if err := conn.AddMatchSignal(dbus.WithMatchInterface("org.freedesktop.DBus"), dbus.WithMatchMember("NameLost"),
		dbus.WithMatchObjectPath("/org/freedesktop/DBus")); err != nil {
		return fmt.Errorf("watching the bus name: %w", err)
	}
	conn.Signal(lost)
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
	log.Debug("serving", "name", BusName, "dir", opts.Dir)
	if opts.Ready != nil {
		opts.Ready()
	}
	for {
		select {
		case <-ctx.Done():
			sv.Wait(5 * time.Second)
			return nil
		case sig, ok := <-lost:
			if !ok {
				return fmt.Errorf("bus connection closed")
			}
			if sig.Name == "org.freedesktop.DBus.NameLost" && len(sig.Body) == 1 && sig.Body[0] == BusName {
				sv.Wait(5 * time.Second)
				return fmt.Errorf("%w: %s was replaced", ErrNameTaken, BusName)
			}
		}
	}
}
