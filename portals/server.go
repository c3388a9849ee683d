package portals

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/godbus/dbus/v5"

	"github.com/porthole-dev/porthole/internal/busconn"
)

// Bus names and paths of the frontend.
const (
	BusName     = "org.freedesktop.portal.Desktop"
	DesktopPath = dbus.ObjectPath("/org/freedesktop/portal/desktop")
	requestBase = "/org/freedesktop/portal/desktop/request/"
	sessionBase = "/org/freedesktop/portal/desktop/session/"
	implPrefix  = "org.freedesktop.impl.portal."
	portalIface = "org.freedesktop.portal."
)

// Options configures a Server.
type Options struct {
	// Address of the session bus; "" means DBUS_SESSION_BUS_ADDRESS.
	Address string
	// SystemAddress of the system bus (NetworkManager, GeoClue); "" means
	// the default system bus. "-" disables it.
	SystemAddress string
	// Getenv reads the environment (XDG_* variables, test hooks);
	// nil means os.Getenv.
	Getenv Env
	// DataDir and SysconfDir are the install's ($prefix/share, /etc).
	DataDir, SysconfDir string
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
}

// Server is a running portal frontend.
type Server struct {
	bus      *busconn.Conn // owns the descriptors calls carry (TakeFD, LendFD)
	conn     *dbus.Conn    // bus.Conn
	sys      *dbus.Conn    // may be nil
	log      *slog.Logger
	getenv   Env
	backends *Backends
	intro    *introspector
	rt       *router
	props    *properties

	mu      sync.Mutex
	callers map[string]*caller
	gates   map[gateKey]chan struct{}
	objects map[dbus.ObjectPath]closer

	sigMu     sync.Mutex
	sigRoutes []sigRoute

	lockdown lockdown
	settings atomic.Pointer[settingsPortal] // nil without a Settings backend
	network  atomic.Pointer[networkMonitor]
	closed   chan struct{}
}

type gateKey struct {
	dest   string
	serial uint32
}

// closer is an exported per-caller object (request or session).
type closer interface {
	closeBy(reason string)
}

type sigRoute struct {
	sender, iface string // sender is a unique name resolved at start
	fn            func(*dbus.Signal)
}

// caller is one connection that called the frontend.
type caller struct {
	name   string
	ctx    context.Context
	cancel context.CancelFunc

	mu         sync.Mutex
	info       *AppInfo
	registered string
	gone       bool
	objects    map[dbus.ObjectPath]closer
}

// New connects to the bus, exports every portal whose backend is found and
// takes the name org.freedesktop.portal.Desktop.
func New(ctx context.Context, opts Options) (*Server, error) {
	s := &Server{
		log:     opts.Logger,
		getenv:  opts.Getenv,
		callers: map[string]*caller{},
		gates:   map[gateKey]chan struct{}{},
		objects: map[dbus.ObjectPath]closer{},
		closed:  make(chan struct{}),
		rt:      newRouter(),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.getenv == nil {
		s.getenv = os.Getenv
	}
	addr := opts.Address
	if addr == "" {
		addr = s.getenv("DBUS_SESSION_BUS_ADDRESS")
	}
	if addr == "" {
		return nil, errors.New("no session bus address")
	}
	bus, err := busconn.Dial(ctx, addr, busconn.Options{ConnOptions: []dbus.ConnOption{
		dbus.WithOutgoingInterceptor(s.outgoing), dbus.WithHandler(s.rt), dbus.WithContext(ctx)},
		Fast: s.fast})
	if err != nil {
		return nil, fmt.Errorf("connecting to the session bus: %w", err)
	}
	s.bus, s.conn = bus, bus.Conn
	conn := s.conn
	if opts.SystemAddress != "-" {
		if opts.SystemAddress != "" {
			s.sys, _ = dbus.Connect(opts.SystemAddress)
		} else {
			s.sys, _ = dbus.ConnectSystemBus()
		}
	}
	if opts.DataDir == "" {
		opts.DataDir = "/usr/share"
	}
	if opts.SysconfDir == "" {
		opts.SysconfDir = "/etc"
	}
	s.backends = LoadBackends(s.getenv, opts.DataDir, opts.SysconfDir)
	s.intro = newIntrospector()
	s.props = newProperties(s)

	sigs := make(chan *dbus.Signal, 256)
	conn.Signal(sigs)
	if err := conn.AddMatchSignal(dbus.WithMatchSender("org.freedesktop.DBus"), dbus.WithMatchInterface("org.freedesktop.DBus"), dbus.WithMatchMember("NameOwnerChanged")); err != nil {
		conn.Close()
		return nil, fmt.Errorf("watching callers: %w", err)
	}
	if err := conn.AddMatchSignal(dbus.WithMatchInterface(implPrefix+"Session"), dbus.WithMatchMember("Closed")); err != nil {
		conn.Close()
		return nil, fmt.Errorf("watching backend sessions: %w", err)
	}
	go s.dispatch(sigs)

	if err := s.exportPortals(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.props.export(); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.intro.export(s.rt, DesktopPath); err != nil {
		s.Close()
		return nil, err
	}
	reply, err := conn.RequestName(BusName, dbus.NameFlagDoNotQueue)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("requesting %s: %w", BusName, err)
	}
	if reply != dbus.RequestNameReplyPrimaryOwner {
		s.Close()
		return nil, fmt.Errorf("requesting %s: %w", BusName, ErrExists)
	}
	return s, nil
}

// Close releases the bus name and disconnects; pending requests end.
func (s *Server) Close() error {
	select {
	case <-s.closed:
		return nil
	default:
		close(s.closed)
	}
	s.mu.Lock()
	callers := s.callers
	s.callers = map[string]*caller{}
	s.mu.Unlock()
	for _, c := range callers {
		s.dropCaller(c)
	}
	if s.sys != nil {
		s.sys.Close()
	}
	return s.conn.Close()
}

// Done is closed when the bus connection is lost.
func (s *Server) Done() <-chan struct{} { return s.conn.Context().Done() }

// Conn returns the session bus connection (for tests).
func (s *Server) Conn() *dbus.Conn { return s.conn }

// ExportedObjects returns the paths of live requests and sessions.
func (s *Server) ExportedObjects() []dbus.ObjectPath {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]dbus.ObjectPath, 0, len(s.objects))
	for p := range s.objects {
		out = append(out, p)
	}
	return out
}

// CallerCount returns how many callers are tracked (for tests).
func (s *Server) CallerCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.callers)
}

// outgoing runs for every message we send; it opens the gate of a request
// once the reply to the call that created it is on its way, so that
// Response always follows the method reply.
func (s *Server) outgoing(msg *dbus.Message) {
	if msg.Type != dbus.TypeMethodReply && msg.Type != dbus.TypeError {
		return
	}
	rs, ok := msg.Headers[dbus.FieldReplySerial].Value().(uint32)
	if !ok {
		return
	}
	dest, _ := msg.Headers[dbus.FieldDestination].Value().(string)
	k := gateKey{dest, rs}
	s.mu.Lock()
	ch := s.gates[k]
	delete(s.gates, k)
	s.mu.Unlock()
	if ch != nil {
		close(ch)
	}
}

func (s *Server) dispatch(sigs chan *dbus.Signal) {
	for sig := range sigs {
		if sig.Name == "org.freedesktop.DBus.NameOwnerChanged" && len(sig.Body) == 3 {
			name, _ := sig.Body[0].(string)
			newOwner, _ := sig.Body[2].(string)
			if p := s.settings.Load(); p != nil && !strings.HasPrefix(name, ":") {
				p.ownerChanged(name)
			}
			if newOwner == "" && strings.HasPrefix(name, ":") {
				s.mu.Lock()
				c := s.callers[name]
				delete(s.callers, name)
				s.mu.Unlock()
				if c != nil {
					s.dropCaller(c)
				}
			}
			continue
		}
		if sig.Name == implPrefix+"Session.Closed" {
			s.implSessionClosed(sig)
			continue
		}
		iface := sig.Name[:max(strings.LastIndexByte(sig.Name, '.'), 0)]
		s.sigMu.Lock()
		routes := s.sigRoutes
		s.sigMu.Unlock()
		for _, r := range routes {
			if r.iface == iface && (r.sender == "" || r.sender == sig.Sender) {
				r.fn(sig)
			}
		}
	}
}

// watchSignals routes signals of iface from the owner of bus name to fn.
// fn runs on the dispatch goroutine and must not block.
func (s *Server) watchSignals(conn *dbus.Conn, name, iface string, fn func(*dbus.Signal)) {
	if conn != s.conn {
		ch := make(chan *dbus.Signal, 32)
		conn.Signal(ch)
		_ = conn.AddMatchSignal(dbus.WithMatchSender(name), dbus.WithMatchInterface(iface))
		go func() {
			for sig := range ch {
				if strings.HasPrefix(sig.Name, iface+".") {
					fn(sig)
				}
			}
		}()
		return
	}
	var owner string
	_ = conn.BusObject().Call("org.freedesktop.DBus.GetNameOwner", 0, name).Store(&owner)
	_ = conn.AddMatchSignal(dbus.WithMatchSender(name), dbus.WithMatchInterface(iface))
	s.sigMu.Lock()
	s.sigRoutes = append(s.sigRoutes, sigRoute{sender: owner, iface: iface, fn: fn})
	s.sigMu.Unlock()
}

func (s *Server) dropCaller(c *caller) {
	c.mu.Lock()
	c.gone = true
	objs := c.objects
	c.objects = nil
	c.mu.Unlock()
	c.cancel()
	for _, o := range objs {
		o.closeBy("caller vanished")
	}
}

// senderOf returns the unique name that sent msg.
func senderOf(msg *dbus.Message) string {
	s, _ := msg.Headers[dbus.FieldSender].Value().(string)
	return s
}

// callerFor returns the tracked caller for sender, creating it.
func (s *Server) callerFor(sender string) (*caller, error) {
	s.mu.Lock()
	c := s.callers[sender]
	if c == nil {
		ctx, cancel := context.WithCancel(context.Background())
		c = &caller{name: sender, ctx: ctx, cancel: cancel, objects: map[dbus.ObjectPath]closer{}}
		s.callers[sender] = c
	}
	s.mu.Unlock()
	return c, nil
}

// appInfo identifies the caller that sent msg (cached per connection).
func (s *Server) appInfo(msg *dbus.Message) (*caller, *AppInfo, error) {
	c, _ := s.callerFor(senderOf(msg))
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.info != nil {
		return c, c.info, nil
	}
	info, err := s.identify(c.ctx, c.name, c.registered)
	if err != nil {
		return c, nil, fmt.Errorf("%w: Portal operation not allowed: %v", ErrAccessDenied, err)
	}
	c.info = info
	return c, info, nil
}

// pidOf asks the bus for the process id of a connection. When the caller
// has gone already this fails, which also settles the race between a
// caller's disconnect and its first call.
func (s *Server) pidOf(ctx context.Context, name string) (uint32, error) {
	var pid uint32
	err := s.conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.GetConnectionUnixProcessID", 0, name).Store(&pid)
	if err != nil {
		return 0, fmt.Errorf("getting the pid of %s: %w", name, err)
	}
	return pid, nil
}

func (s *Server) identify(ctx context.Context, name, registered string) (*AppInfo, error) {
	pid, err := s.pidOf(ctx, name)
	if err != nil {
		s.forget(name)
		return nil, err
	}
	if ai, err := testAppInfo(s.getenv, registered); ai != nil || err != nil {
		return ai, err
	}
	ai, err := readFlatpakInfo(pid)
	if err == nil {
		return ai, nil
	}
	if !errors.Is(err, errNotFlatpak) {
		return nil, err
	}
	if isSnap(pid) {
		return nil, errors.New("snap applications are not supported")
	}
	id := registered
	if id == "" {
		id = hostAppID(pid)
	}
	return &AppInfo{Kind: KindHost, ID: id, Network: true}, nil
}

// forget drops a caller whose connection turned out to be gone.
func (s *Server) forget(name string) {
	s.mu.Lock()
	c := s.callers[name]
	delete(s.callers, name)
	s.mu.Unlock()
	if c != nil {
		go s.dropCaller(c)
	}
}

// sendTo emits a signal to one destination only (unicast).
func (s *Server) sendTo(dest string, path dbus.ObjectPath, member string, body ...any) error {
	i := strings.LastIndexByte(member, '.')
	msg := &dbus.Message{
		Type: dbus.TypeSignal,
		Headers: map[dbus.HeaderField]dbus.Variant{
			dbus.FieldPath:      dbus.MakeVariant(path),
			dbus.FieldInterface: dbus.MakeVariant(member[:i]),
			dbus.FieldMember:    dbus.MakeVariant(member[i+1:]),
		},
		Body: body,
	}
	if dest != "" {
		msg.Headers[dbus.FieldDestination] = dbus.MakeVariant(dest)
	}
	if len(body) > 0 {
		msg.Headers[dbus.FieldSignature] = dbus.MakeVariant(dbus.SignatureOf(body...))
	}
	return s.conn.Send(msg, nil).Err
}

// backendObject returns the object of a backend for iface (short name,
// e.g. "FileChooser"), or nil when none is configured.
func (s *Server) backendObject(iface string) dbus.BusObject {
	be := s.backends.Find(implPrefix + iface)
	if be == nil {
		return nil
	}
	return s.conn.Object(be.DBusName, DesktopPath)
}

// implSessionClosed closes our session when its backend closed its side;
// only the backend owning the session may do that.
func (s *Server) implSessionClosed(sig *dbus.Signal) {
	s.mu.Lock()
	ss, _ := s.objects[sig.Path].(*Session)
	s.mu.Unlock()
	if ss == nil {
		return
	}
	ss.mu.Lock()
	dest := ss.implDest
	ss.mu.Unlock()
	var owner string
	if dest == "" || s.conn.BusObject().Call("org.freedesktop.DBus.GetNameOwner", 0, dest).Store(&owner) != nil || owner != sig.Sender {
		return
	}
	go ss.close(true)
}
