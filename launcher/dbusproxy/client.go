package dbusproxy

import (
	"encoding/binary"
	"fmt"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// expectKind says what to do with the reply to a call the proxy forwarded.
type expectKind int

const (
	expectNone        expectKind = iota
	expectNormal                 // pass it on
	expectHello                  // pass it on; its body is the client's unique name
	expectRewrite                // replace the reply to a Ping with a made-up answer
	expectListNames              // filter the names in it
	expectFakeMatch              // reply to the proxy's own AddMatch: drop
	expectFakeOwner              // reply to the proxy's own GetNameOwner: learn the owner, drop
	expectFakeListing            // reply to the proxy's own ListNames: ask for owners, drop
)

// expectation is an outstanding call sent to the bus, by serial.
type expectation struct {
	kind    expectKind
	errName string // expectRewrite: the error to answer, or "" for a boolean
	boolVal bool   // expectRewrite with errName == ""
	name    string // expectFakeOwner: the name asked about
}

// callKey identifies a call a peer made to the client, which the client
// may answer once.
type callKey struct {
	sender string
	serial uint32
}

const (
	// Serials of messages the proxy makes up are at or above
	// firstFakeSerial; clients must stay below it.
	firstFakeSerial = 0xFFFF0000
	errAccessDenied = "org.freedesktop.DBus.Error.AccessDenied"
	errNoOwner      = "org.freedesktop.DBus.Error.NameHasNoOwner"
	errUnknown      = "org.freedesktop.DBus.Error.ServiceUnknown"
)

// Where a side's reading stands.
const (
	phaseCredentials = iota // the client's first byte
	phaseAuth               // SASL lines
	phaseMessages
)

// client is the state of one proxied connection. It is the loop's: only
// the loop's goroutine touches it (see loop.go).
type client struct {
	px          *Proxy
	r           *rules
	toBus, toCl *writer
	fromCl      side // the client's socket
	fromBs      side // the bus's socket
	clPhase     int
	busPhase    int
	clOut       batch
	busOut      batch
	done        func(error) // called once, when the client has ended
	stop        func() bool // stops the context's AfterFunc
	closed      bool

	// mu guards the filtering state below (the filters take it; the
	// loop alone calls them, but they are also fuzzed directly).
	mu sync.Mutex
	// SASL: lines the client sent before BEGIN, lines the bus answered.
	authSent, authAnswered int
	beginSeen              bool
	fakeSerial             uint32                 // last serial the proxy used
	fromBus                map[uint32]expectation // nil while idle
	fromClient             map[callKey]struct{}   // nil until a peer calls the client
	uniqueLevel            map[string]Level       // TALK for itself, SEE for peers that wrote to it
	owned                  map[string][]string    // unique name → well-known names it ever owned
	initPending            int                    // made-up calls not answered yet
	opsFirst               uint32                 // serial of the first name-tracking call
	opsPending             []uint64               // bit i: the reply to call opsFirst+i is due
	opsBits                [1]uint64              // opsPending's room for up to 64 calls
	initDone               chan struct{}          // closed when initPending drops to 0
	paused                 bool                   // the client side waits for initDone
}

// side is one socket of a client: what is read from it (its reader and
// pump), what is written to it (its writer) and what the loop watches it
// for.
type side struct {
	cl     *client
	fd     int
	key    uint64 // in the loop; 0 until registered
	rd     *reader
	w      writer
	pump   func() error // reads and forwards until it would block
	events uint32       // what the loop watches the socket for
	hup    bool         // it hung up while not being read: no longer watched
}

// errPaused is what a pump returns when it must not read until something
// else happens (the client side while name tracking is being set up).
var errPaused = fmt.Errorf("paused")

func newClient(px *Proxy, c, bus int) *client {
	cl := &client{
		px: px, r: px.rules,
		fakeSerial:  firstFakeSerial - 1,
		uniqueLevel: map[string]Level{},
		owned:       map[string][]string{},
	}
	cl.fromCl = side{cl: cl, fd: c, rd: newReader(c, px.max), pump: cl.clientPump}
	cl.fromBs = side{cl: cl, fd: bus, rd: newReader(bus, MaxMessageSize), pump: cl.busPump}
	cl.fromCl.w = writer{fd: c, notify: cl.update}
	cl.fromBs.w = writer{fd: bus, notify: cl.update}
	cl.toCl, cl.toBus = &cl.fromCl.w, &cl.fromBs.w
	cl.clOut.w, cl.busOut.w = cl.toBus, cl.toCl
	return cl
}

// register has the loop watch both sockets.
func (cl *client) register() error {
	for _, s := range []*side{&cl.fromCl, &cl.fromBs} {
		s.events = unix.EPOLLIN | unix.EPOLLRDHUP
		key, err := cl.px.lp.add(s.fd, s.events, s.handle)
		if err != nil {
			return err
		}
		s.key = key
	}
	return nil
}

// handle is what the loop calls when the side's socket is ready.
func (s *side) handle(ev uint32) {
	cl := s.cl
	if ev&unix.EPOLLOUT != 0 {
		if err := s.w.drain(); err != nil {
			cl.fail(s, err)
			return
		}
	}
	if ev&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) == 0 || cl.closed {
		return
	}
	if s.events&unix.EPOLLIN != 0 {
		s.run()
		return
	}
	if ev&(unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		// Not being read (its output is held up), and these are
		// reported anyway: stop watching it. Nothing more can be
		// written to it; what it sent is read once the side may read.
		s.hup = true
		cl.px.lp.remove(s.fd, s.key)
		s.key = 0
		s.w.close()
		cl.update()
	}
}

// run processes the side until it would block.
func (s *side) run() {
	cl := s.cl
	if cl.closed {
		return
	}
	switch err := guard(s.pump); err {
	case errPaused:
		cl.update() // no longer watched for input; initAnswered resumes it
	case errWouldBlock:
		cl.idle()
		if s.hup {
			cl.update() // read on to the end
		}
	default:
		cl.fail(s, err)
	}
}

// mayRead reports whether the side may be read: not while its output (or,
// for the client, a reply to it) is held up by a slow reader, nor while
// the client waits for name tracking.
func (cl *client) mayRead(s *side) bool {
	if s == &cl.fromCl {
		return !cl.paused && !cl.toBus.full() && !cl.toCl.full()
	}
	return !cl.toCl.full()
}

// update brings what the loop watches in line with the client's state, and
// has sides that may read again run.
func (cl *client) update() {
	if cl.closed {
		return
	}
	for _, s := range []*side{&cl.fromCl, &cl.fromBs} {
		read := cl.mayRead(s)
		if s.hup {
			if read {
				cl.px.lp.later(s.run)
			}
			continue
		}
		var ev uint32
		if read {
			ev = unix.EPOLLIN | unix.EPOLLRDHUP
		}
		if len(s.w.q) > 0 {
			ev |= unix.EPOLLOUT
		}
		if ev == s.events || s.key == 0 {
			continue
		}
		if read && s.events&unix.EPOLLIN == 0 {
			cl.px.lp.later(s.run) // it may have unread messages buffered
		}
		s.events = ev
		if err := cl.px.lp.modify(s.fd, s.key, ev); err != nil {
			cl.px.lp.later(func() { cl.fail(s, err) })
			return
		}
	}
}

// fail ends the client: both sockets are closed and what is buffered or
// queued for them dropped. err (nil for a plain stop) is what stopped s
// (nil for neither).
func (cl *client) fail(s *side, err error) {
	if cl.closed {
		return
	}
	cl.closed = true
	for _, sd := range []*side{&cl.fromCl, &cl.fromBs} {
		if sd.key != 0 {
			cl.px.lp.remove(sd.fd, sd.key)
		}
		unix.Close(sd.fd)
		sd.rd.close()
		sd.w.close()
	}
	for _, b := range []*batch{&cl.clOut, &cl.busOut} {
		b.release()
	}
	if cl.stop != nil {
		cl.stop()
	}
	if isClosed(err) {
		err = nil
	} else if err != nil && s == &cl.fromBs {
		err = fmt.Errorf("bus connection: %w", err)
	}
	if cl.done != nil {
		cl.done(err)
	}
}

// clientPump reads the client: the credentials byte, SASL lines until
// BEGIN, then messages, until the side is idle (errWouldBlock), must wait
// for name tracking (errPaused) or fails.
func (cl *client) clientPump() error {
	rd := cl.fromCl.rd
	for {
		switch cl.clPhase {
		case phaseCredentials:
			if rd.r == rd.w {
				if err := rd.fill(); err != nil {
					return err
				}
				continue
			}
			first := rd.buf[rd.r]
			rd.r++
			if err := sendCredentialsByte(cl.fromBs.fd, first); err != nil {
				return err
			}
			cl.clPhase = phaseAuth
		case phaseAuth:
			l, err := rd.line()
			if err != nil {
				cl.px.tracef("Invalid AUTH line, aborting")
				return err
			}
			if l == nil {
				if err := rd.fill(); err != nil {
					return err
				}
				continue
			}
			if !validAuthLine(l[:len(l)-2]) {
				cl.px.tracef("Invalid AUTH line, aborting")
				return fmt.Errorf("%w: %q", ErrBadAuth, l)
			}
			begin := isBegin(l[:len(l)-2])
			cl.mu.Lock()
			if begin {
				cl.beginSeen = true
			} else {
				cl.authSent++
			}
			cl.mu.Unlock()
			if err := cl.toBus.write(l, nil); err != nil {
				return err
			}
			if begin {
				cl.clPhase = phaseMessages
			}
		default:
			m, err := rd.message()
			if err != nil {
				return err
			}
			if m == nil {
				if err := cl.clOut.flush(); err != nil {
					return err
				}
				if err := rd.fill(); err != nil {
					return err
				}
				continue
			}
			wait, err := cl.fromClientMessage(rd, m, &cl.clOut)
			if err != nil {
				return err
			}
			if wait != nil {
				// The proxy is learning who owns the names of its
				// policy; the client's next messages wait until it knows
				// (initAnswered resumes this side).
				if err := cl.clOut.flush(); err != nil {
					return err
				}
				cl.mu.Lock()
				select {
				case <-wait:
				default:
					cl.paused = true
				}
				paused := cl.paused
				cl.mu.Unlock()
				if paused {
					return errPaused
				}
			}
		}
	}
}

// validAuthLine applies xdg-dbus-proxy's checks to a SASL line without its
// CRLF: printable ASCII only, starting with an upper-case letter.
func validAuthLine(l []byte) bool {
	if len(l) == 0 || l[0] < 'A' || l[0] > 'Z' {
		return false
	}
	for _, c := range l {
		if c < ' ' || c > 0x7e {
			return false
		}
	}
	return true
}

// isBegin reports whether l is BEGIN, alone or followed by a blank, as
// dbus-daemon accepts it.
func isBegin(l []byte) bool {
	rest, ok := strings.CutPrefix(string(l), "BEGIN")
	return ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t')
}

// busPump reads the bus: SASL replies until the client's BEGIN has been
// answered, then messages, until the side is idle or fails.
func (cl *client) busPump() error {
	rd := cl.fromBs.rd
	for {
		if cl.busPhase != phaseMessages {
			cl.mu.Lock()
			authDone := cl.beginSeen && cl.authAnswered >= cl.authSent
			cl.mu.Unlock()
			if authDone {
				cl.busPhase = phaseMessages
				continue
			}
			l, err := rd.line()
			if err != nil {
				return err
			}
			if l == nil {
				if err := rd.fill(); err != nil {
					return err
				}
				continue
			}
			cl.mu.Lock()
			cl.authAnswered++
			cl.mu.Unlock()
			if err := cl.toCl.write(l, nil); err != nil {
				return err
			}
			continue
		}
		m, err := rd.message()
		if err != nil {
			return err
		}
		if m == nil {
			if err := cl.busOut.flush(); err != nil {
				return err
			}
			if err := rd.fill(); err != nil {
				return err
			}
			continue
		}
		if err := cl.fromBusMessage(rd, m, &cl.busOut); err != nil {
			return err
		}
	}
}

// expect records the reply expected to the call with serial s sent to the
// bus; mu must be held.
func (cl *client) expect(s uint32, e expectation) {
	if cl.fromBus == nil {
		cl.fromBus = map[uint32]expectation{}
	}
	cl.fromBus[s] = e
}

// idle drops the bookkeeping an idle client need not hold: empty maps keep
// the room they once needed. It is called when a side goes idle.
func (cl *client) idle() {
	cl.mu.Lock()
	if len(cl.fromBus) == 0 {
		cl.fromBus = nil
	}
	if len(cl.fromClient) == 0 {
		cl.fromClient = nil
	}
	cl.mu.Unlock()
}

// nextFakeSerial returns a serial for a made-up message; mu must be held.
func (cl *client) nextFakeSerial() uint32 {
	cl.fakeSerial++
	if cl.fakeSerial < firstFakeSerial {
		cl.fakeSerial = firstFakeSerial
	}
	return cl.fakeSerial
}

// level returns the level of name for this client and appends the filters
// that apply to it to *matched (if not nil). mu must be held.
func (cl *client) level(name string, matched *[]*filter) Level {
	if name == "" {
		if matched != nil {
			*matched = append(*matched, matchAll[LevelTalk])
		}
		return LevelTalk // the bus itself
	}
	if name[0] != ':' {
		return cl.r.wellKnown(name, matched)
	}
	l := cl.uniqueLevel[name]
	if l > LevelNone && matched != nil {
		*matched = append(*matched, matchAll[l])
	}
	for _, n := range cl.owned[name] {
		l = maxLevel(l, cl.r.wellKnown(n, matched))
	}
	return l
}

// raiseUnique raises the level of a unique name; mu must be held.
func (cl *client) raiseUnique(name string, l Level) {
	if l > cl.uniqueLevel[name] {
		cl.uniqueLevel[strings.Clone(name)] = l // name may share a message's memory
	}
}

// addOwned records that unique name owner owns name; mu must be held.
func (cl *client) addOwned(owner, name string) {
	for _, n := range cl.owned[owner] {
		if n == name {
			return
		}
	}
	cl.owned[owner] = append(cl.owned[owner], name)
}

// initialNameOps makes up the calls that start name tracking after Hello:
// for each name of the policy an AddMatch on its NameOwnerChanged and, for
// exact names, a GetNameOwner; one ListNames if any name is a subtree.
// It returns the messages to send; mu must be held. The messages are the
// same for every client of a proxy but for their serials: they are encoded
// once (nameOpsTemplate) and copied.
func (cl *client) initialNameOps() []byte {
	t := cl.r.nameOps()
	if len(t.ops) == 0 || cl.opsPending != nil {
		return nil // (a second Hello: the names are tracked already)
	}
	var out []byte
	if len(t.msgs) <= initialBufSize {
		out = (*bufPool.Get().(*[]byte))[:0] // fromClientMessage gives it back
	}
	out = append(out, t.msgs...)
	// Their replies are looked up by serial offset, not in fromBus (which
	// would grow for them and keep the room): the serials are consecutive,
	// these being the first the proxy makes up for this client.
	cl.opsFirst = cl.nextFakeSerial()
	cl.opsPending = cl.opsBits[:]
	if n := (len(t.ops) + 63) / 64; n > len(cl.opsBits) {
		cl.opsPending = make([]uint64, n)
	}
	for i, op := range t.ops {
		s := cl.opsFirst
		if i > 0 {
			s = cl.nextFakeSerial()
		}
		binary.LittleEndian.PutUint32(out[op.off+8:], s)
		cl.opsPending[i/64] |= 1 << (i % 64)
		cl.initPending++
		cl.px.tracef(op.trace, s)
	}
	if cl.initDone == nil {
		cl.initDone = make(chan struct{})
	}
	return out
}

// takeExpectation returns and forgets what the reply to serial s is
// expected to be; mu must be held.
func (cl *client) takeExpectation(s uint32) (expectation, bool) {
	if i := uint64(s) - uint64(cl.opsFirst); cl.opsPending != nil && s >= cl.opsFirst && i < uint64(len(cl.r.nameOps().ops)) {
		if w, bit := i/64, uint64(1)<<(i%64); cl.opsPending[w]&bit != 0 {
			cl.opsPending[w] &^= bit
			op := cl.r.nameOps().ops[i]
			return expectation{kind: op.kind, name: op.name}, true
		}
	}
	e, ok := cl.fromBus[s]
	if ok {
		delete(cl.fromBus, s)
	}
	return e, ok
}

// nameOpsTemplate is what initialNameOps sends: msgs, the messages one
// after the other with serial 0, and for each the offset of its start,
// the reply expected and its trace line (a format taking the serial).
type nameOpsTemplate struct {
	msgs []byte
	ops  []nameOp
}

type nameOp struct {
	off   int
	kind  expectKind
	name  string // expectFakeOwner: the name asked about
	trace string
}

// nameOps returns the made-up calls of name tracking, encoded on first use.
func (r *rules) nameOps() *nameOpsTemplate {
	r.nameOpsOnce.Do(func() {
		t := &nameOpsTemplate{}
		add := func(b *builder, op nameOp) {
			op.off = len(t.msgs)
			t.msgs = append(t.msgs, b.bytes()...)
			t.ops = append(t.ops, op)
		}
		wildcards := false
		for _, name := range sortedKeys(r.names) {
			if name == busName {
				continue
			}
			subtree := false
			for _, f := range r.names[name] {
				subtree = subtree || f.subtree
			}
			arg := "arg0"
			if subtree {
				arg = "arg0namespace"
			}
			b := newCall(0, 0, busName, "/org/freedesktop/DBus", busName, "AddMatch")
			b.sig = "s"
			b.appendString("type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',member='NameOwnerChanged'," + arg + "='" + name + "'")
			if subtree {
				add(b, nameOp{kind: expectFakeMatch, trace: "C%d: -> org.freedesktop.DBus fake wildcarded AddMatch for " + name})
				wildcards = true
				continue
			}
			add(b, nameOp{kind: expectFakeMatch, trace: "C%d: -> org.freedesktop.DBus fake AddMatch for " + name})
			add(getNameOwnerCall(0, name), nameOp{kind: expectFakeOwner, name: name, trace: "C%d: -> org.freedesktop.DBus fake GetNameOwner for " + name})
		}
		if wildcards {
			add(newCall(0, 0, busName, "/org/freedesktop/DBus", busName, "ListNames"), nameOp{kind: expectFakeListing, trace: "C%d: -> org.freedesktop.DBus fake ListNames"})
		}
		r.nameOpsTpl = t
	})
	return r.nameOpsTpl
}

func getNameOwnerCall(serial uint32, name string) *builder {
	b := newCall(serial, 0, busName, "/org/freedesktop/DBus", busName, "GetNameOwner")
	b.sig = "s"
	b.appendString(name)
	return b
}

// getNameOwner makes up a GetNameOwner call; mu must be held.
func (cl *client) getNameOwner(name string) []byte {
	s := cl.nextFakeSerial()
	b := getNameOwnerCall(s, name)
	cl.expect(s, expectation{kind: expectFakeOwner, name: name})
	cl.initPending++
	cl.px.tracef("C%d: -> org.freedesktop.DBus fake GetNameOwner for %s", s, name)
	return b.bytes()
}

// initAnswered counts one answered made-up call; mu must be held.
func (cl *client) initAnswered() {
	cl.initPending--
	if cl.initPending == 0 && cl.initDone != nil {
		close(cl.initDone)
		cl.initDone = nil
		if cl.paused {
			cl.paused = false
			cl.px.lp.later(cl.update) // (update has the side run)
		}
	}
}
