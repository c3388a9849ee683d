package dbusproxy

import (
	"encoding/binary"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
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

// client is the state of one proxied connection. clientLoop and busLoop
// run in two goroutines; mu guards the fields they share.
type client struct {
	px     *Proxy
	r      *rules
	c, bus *net.UnixConn
	toBus  writer
	toCl   writer

	mu sync.Mutex
	// SASL: lines the client sent before BEGIN, lines the bus answered.
	authSent, authAnswered int
	beginSeen              bool
	fakeSerial             uint32 // last serial the proxy used
	fromBus                map[uint32]expectation
	fromClient             map[callKey]struct{}
	uniqueLevel            map[string]Level    // TALK for itself, SEE for peers that wrote to it
	owned                  map[string][]string // unique name → well-known names it ever owned
	initPending            int                 // made-up calls not answered yet
	initDone               chan struct{}       // closed when initPending drops to 0
	busDone                chan struct{}       // closed when busLoop has returned
}

func newClient(px *Proxy, c, bus *net.UnixConn) *client {
	return &client{
		px: px, r: px.rules, c: c, bus: bus,
		toBus: writer{c: bus}, toCl: writer{c: c},
		fakeSerial:  firstFakeSerial - 1,
		fromBus:     map[uint32]expectation{},
		fromClient:  map[callKey]struct{}{},
		uniqueLevel: map[string]Level{},
		owned:       map[string][]string{},
		busDone:     make(chan struct{}),
	}
}

// clientLoop reads the client: the credentials byte, SASL lines until
// BEGIN, then messages. It returns on the first error or hang-up.
func (cl *client) clientLoop() error {
	rd := newReader(cl.c, cl.px.max)
	defer rd.close()
	if err := rd.fill(); err != nil {
		return err
	}
	first := rd.buf[rd.r]
	rd.r++
	if err := sendCredentialsByte(cl.bus, first); err != nil {
		return err
	}
	for {
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
			break
		}
	}
	out := &batch{w: &cl.toBus}
	for {
		for {
			m, err := rd.message()
			if err != nil {
				return err
			}
			if m == nil {
				break
			}
			wait, err := cl.fromClientMessage(rd, m, out)
			if err != nil {
				return err
			}
			if wait != nil {
				// The proxy is learning who owns the names of its
				// policy; hold the client's next messages until it knows.
				if err := out.flush(); err != nil {
					return err
				}
				select {
				case <-wait:
				case <-cl.busDone:
					return nil
				}
			}
		}
		if err := out.flush(); err != nil {
			return err
		}
		if err := rd.fill(); err != nil {
			return err
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

// busLoop reads the bus: SASL replies until the client's BEGIN has been
// answered, then messages.
func (cl *client) busLoop() error {
	rd := newReader(cl.bus, MaxMessageSize)
	defer rd.close()
	for {
		cl.mu.Lock()
		authDone := cl.beginSeen && cl.authAnswered >= cl.authSent
		cl.mu.Unlock()
		if authDone {
			break
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
	}
	out := &batch{w: &cl.toCl}
	for {
		for {
			m, err := rd.message()
			if err != nil {
				return err
			}
			if m == nil {
				break
			}
			if err := cl.fromBusMessage(rd, m, out); err != nil {
				return err
			}
		}
		if err := out.flush(); err != nil {
			return err
		}
		if err := rd.fill(); err != nil {
			return err
		}
	}
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
		cl.uniqueLevel[name] = l
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
	if len(t.ops) == 0 {
		return nil
	}
	out := slices.Clone(t.msgs)
	for _, op := range t.ops {
		s := cl.nextFakeSerial()
		binary.LittleEndian.PutUint32(out[op.off+8:], s)
		cl.fromBus[s] = expectation{kind: op.kind, name: op.name}
		cl.initPending++
		cl.px.tracef(op.trace, s)
	}
	if cl.initDone == nil {
		cl.initDone = make(chan struct{})
	}
	return out
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
	cl.fromBus[s] = expectation{kind: expectFakeOwner, name: name}
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
	}
}
