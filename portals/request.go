package portals

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"

	"github.com/godbus/dbus/v5"
)

// Response codes of org.freedesktop.portal.Request.Response.
const (
	ResponseSuccess   uint32 = 0
	ResponseCancelled uint32 = 1
	ResponseOther     uint32 = 2
)

// Request is an exported org.freedesktop.portal.Request object.
type Request struct {
	s      *Server
	c      *caller
	path   dbus.ObjectPath
	ctx    context.Context
	cancel context.CancelFunc
	gate   chan struct{} // closed once the method reply was sent

	mu       sync.Mutex
	done     bool
	implDest string // backend with a live impl Request at path
	onClose  func() // called once when closed by the caller (Inhibit)
}

// Session is an exported org.freedesktop.portal.Session object.
type Session struct {
	s      *Server
	c      *caller
	path   dbus.ObjectPath
	ctx    context.Context
	cancel context.CancelFunc
	AppID  string

	mu       sync.Mutex
	done     bool
	implDest string
	onClose  func()
	data     any // portal-specific state
}

func escapeSender(name string) string {
	return strings.ReplaceAll(strings.TrimPrefix(name, ":"), ".", "_")
}

func validToken(t string) bool {
	if t == "" {
		return false
	}
	for _, c := range []byte(t) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func randomSuffix() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// reserve picks a free path below base for c and token and records obj.
func (s *Server) reserve(c *caller, base, token string, obj closer) (dbus.ObjectPath, error) {
	if !validToken(token) {
		return "", wrapf(ErrInvalidArgument, "Invalid token %q", token)
	}
	path := dbus.ObjectPath(base + escapeSender(c.name) + "/" + token)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gone {
		return "", fmt.Errorf("%w: caller vanished", ErrFailed)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.objects[path] != nil {
		path = dbus.ObjectPath(base + escapeSender(c.name) + "/" + token + "/" + randomSuffix())
	}
	s.objects[path] = obj
	c.objects[path] = obj
	return path, nil
}

func (s *Server) release(c *caller, path dbus.ObjectPath) {
	c.mu.Lock()
	delete(c.objects, path)
	c.mu.Unlock()
	s.mu.Lock()
	delete(s.objects, path)
	s.mu.Unlock()
}

// newRequest exports a Request for the call msg from caller c. The token
// comes from options["handle_token"] (default "t").
func (s *Server) newRequest(c *caller, msg *dbus.Message, options map[string]dbus.Variant) (*Request, error) {
	token := "t"
	if v, ok := options["handle_token"]; ok {
		t, ok := v.Value().(string)
		if !ok {
			return nil, fmt.Errorf("%w: handle_token must be a string", ErrInvalidArgument)
		}
		token = t
	}
	r := &Request{s: s, c: c}
	r.ctx, r.cancel = context.WithCancel(c.ctx)
	r.gate = make(chan struct{})
	// Once reserved, the caller's disconnection may close r at any time:
	// hold r.mu until r is complete and exported, so that closeBy then
	// finds the path and undoes the export.
	r.mu.Lock()
	defer r.mu.Unlock()
	path, err := s.reserve(c, requestBase, token, r)
	if err != nil {
		r.cancel()
		return nil, err
	}
	r.path = path
	if msg.Flags&dbus.FlagNoReplyExpected != 0 {
		close(r.gate)
	} else {
		s.mu.Lock()
		s.gates[gateKey{c.name, msg.Serial()}] = r.gate
		s.mu.Unlock()
	}
	s.rt.export(requestObject{r}, path, "org.freedesktop.portal.Request")
	_ = s.intro.exportNode(s.rt, path, "org.freedesktop.portal.Request")
	return r, nil
}

// Path returns the handle of r.
func (r *Request) Path() dbus.ObjectPath { return r.path }

// Run runs work in its own goroutine with a context cancelled when the
// request is closed or the caller leaves, then sends its result as the
// Response (unless the request was closed meanwhile).
func (r *Request) Run(work func(ctx context.Context) (uint32, map[string]dbus.Variant)) {
	go func() {
		code, results := work(r.ctx)
		r.respond(code, results)
	}()
}

// respond sends Response to the caller only and unexports r.
func (r *Request) respond(code uint32, results map[string]dbus.Variant) {
	select {
	case <-r.gate:
	case <-r.ctx.Done():
	}
	r.mu.Lock()
	if r.done {
		r.mu.Unlock()
		return
	}
	r.done = true
	r.mu.Unlock()
	if results == nil {
		results = map[string]dbus.Variant{}
	}
	_ = r.s.sendTo(r.c.name, r.path, "org.freedesktop.portal.Request.Response", code, results)
	r.unexport()
}

func (r *Request) unexport() {
	r.cancel()
	r.s.mu.Lock()
	for k, g := range r.s.gates {
		if g == r.gate {
			delete(r.s.gates, k)
		}
	}
	r.s.mu.Unlock()
	r.s.rt.export(nil, r.path, "org.freedesktop.portal.Request")
	r.s.intro.unexportNode(r.s.rt, r.path)
	r.s.release(r.c, r.path)
}

// keepAfterResponse sends Response but keeps the Request exported until the
// caller closes it (Inhibit); onClose runs then.
func (r *Request) respondAndKeep(code uint32, onClose func()) {
	select {
	case <-r.gate:
	case <-r.ctx.Done():
	}
	r.mu.Lock()
	if r.done {
		r.mu.Unlock()
		if onClose != nil {
			onClose()
		}
		return
	}
	r.onClose = onClose
	r.mu.Unlock()
	_ = r.s.sendTo(r.c.name, r.path, "org.freedesktop.portal.Request.Response", code, map[string]dbus.Variant{})
}

// callBackend calls method on the backend object with the request handle;
// while it runs, closing r forwards Close to the backend's impl Request.
func (r *Request) callBackend(ctx context.Context, obj dbus.BusObject, method string, args ...any) *dbus.Call {
	r.mu.Lock()
	r.implDest = obj.Destination()
	r.mu.Unlock()
	call := obj.CallWithContext(ctx, method, 0, args...)
	r.mu.Lock()
	r.implDest = ""
	r.mu.Unlock()
	return call
}

// backendResponse calls a backend method returning (u, a{sv}).
func (r *Request) backendResponse(ctx context.Context, obj dbus.BusObject, method string, args ...any) (uint32, map[string]dbus.Variant, error) {
	call := r.callBackend(ctx, obj, method, args...)
	if call.Err != nil {
		return ResponseOther, nil, call.Err
	}
	code, ok1 := bodyArg[uint32](call, 0)
	results, ok2 := bodyArg[map[string]dbus.Variant](call, 1)
	if !ok1 || !ok2 {
		return ResponseOther, nil, fmt.Errorf("%w: backend %s answered %s", ErrFailed, method, dbus.SignatureOf(call.Body...))
	}
	return code, normalizeMap(results), nil
}

// closeBy ends r without a Response (caller called Close or vanished).
func (r *Request) closeBy(reason string) {
	r.mu.Lock()
	if r.done {
		r.mu.Unlock()
		return
	}
	r.done = true
	dest := r.implDest
	onClose := r.onClose
	r.mu.Unlock()
	if dest != "" {
		r.s.conn.Object(dest, r.path).Go("org.freedesktop.impl.portal.Request.Close", dbus.FlagNoReplyExpected, nil)
	}
	if onClose != nil {
		onClose()
	}
	r.unexport()
}

type requestObject struct{ r *Request }

// Close is org.freedesktop.portal.Request.Close.
func (o requestObject) Close(sender dbus.Sender) *dbus.Error {
	if string(sender) != o.r.c.name {
		return DBusError(fmt.Errorf("%w: not the owner of this request", ErrAccessDenied))
	}
	o.r.closeBy("closed")
	return nil
}

// newSession exports a Session from options["session_handle_token"].
func (s *Server) newSession(c *caller, app *AppInfo, options map[string]dbus.Variant) (*Session, error) {
	token := "t"
	if v, ok := options["session_handle_token"]; ok {
		t, ok := v.Value().(string)
		if !ok {
			return nil, fmt.Errorf("%w: session_handle_token must be a string", ErrInvalidArgument)
		}
		token = t
	}
	ss := &Session{s: s, c: c, AppID: app.ID}
	ss.ctx, ss.cancel = context.WithCancel(c.ctx)
	// As in newRequest: complete and export ss before close can run.
	ss.mu.Lock()
	defer ss.mu.Unlock()
	path, err := s.reserve(c, sessionBase, token, ss)
	if err != nil {
		ss.cancel()
		return nil, err
	}
	ss.path = path
	s.rt.export(sessionObject{ss}, path, "org.freedesktop.portal.Session")
	s.props.exportSession(path)
	_ = s.intro.exportNode(s.rt, path, "org.freedesktop.portal.Session")
	return ss, nil
}

// lookupSession returns the live session at path owned by c.
func (s *Server) lookupSession(c *caller, path dbus.ObjectPath) (*Session, error) {
	c.mu.Lock()
	o := c.objects[path]
	c.mu.Unlock()
	ss, ok := o.(*Session)
	if !ok {
		return nil, fmt.Errorf("%w: invalid session", ErrInvalidArgument)
	}
	return ss, nil
}

// Path returns the handle of ss.
func (ss *Session) Path() dbus.ObjectPath { return ss.path }

func (ss *Session) closeBy(reason string) { ss.close(false) }

// close ends the session; emitClosed sends Closed to the owner (when the
// backend closed it rather than the caller).
func (ss *Session) close(emitClosed bool) {
	ss.mu.Lock()
	if ss.done {
		ss.mu.Unlock()
		return
	}
	ss.done = true
	dest := ss.implDest
	onClose := ss.onClose
	ss.mu.Unlock()
	if dest != "" && !emitClosed {
		ss.s.conn.Object(dest, ss.path).Go("org.freedesktop.impl.portal.Session.Close", dbus.FlagNoReplyExpected, nil)
	}
	if onClose != nil {
		onClose()
	}
	if emitClosed {
		_ = ss.s.sendTo(ss.c.name, ss.path, "org.freedesktop.portal.Session.Closed", map[string]dbus.Variant{})
	}
	ss.cancel()
	ss.s.rt.export(nil, ss.path, "org.freedesktop.portal.Session")
	ss.s.props.unexportSession(ss.path)
	ss.s.intro.unexportNode(ss.s.rt, ss.path)
	ss.s.release(ss.c, ss.path)
}

type sessionObject struct{ ss *Session }

// Close is org.freedesktop.portal.Session.Close.
func (o sessionObject) Close(sender dbus.Sender) *dbus.Error {
	if string(sender) != o.ss.c.name {
		return DBusError(fmt.Errorf("%w: not the owner of this session", ErrAccessDenied))
	}
	o.ss.close(false)
	return nil
}
