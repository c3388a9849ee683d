package dbusproxy

import (
	"maps"
	"slices"
	"strings"
)

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// verdict is what happens to a message from the client.
type verdict int

const (
	pass verdict = iota
	deny         // AccessDenied
	hide         // ServiceUnknown or NameHasNoOwner, as if the name did not exist
)

func generatesReply(h *header) bool {
	return h.typ == typeMethodCall && h.flags&flagNoReplyExpected == 0
}

func isBusCall(h *header) bool {
	return h.dest == busName && h.typ == typeMethodCall && h.iface == busName
}

// isEavesdrop reports whether a match rule asks to eavesdrop: "eavesdrop",
// then blanks, then '='. (xdg-dbus-proxy 0.1.7, and Debian's 0.1.4 since
// the fix for CVE-2026-34080.)
func isEavesdrop(rule string) bool {
	for {
		i := strings.Index(rule, "eavesdrop")
		if i < 0 {
			return false
		}
		rule = strings.TrimLeft(rule[i+len("eavesdrop"):], " \t\r\n")
		if strings.HasPrefix(rule, "=") {
			return true
		}
	}
}

// fromClientMessage filters one message the client sent and queues what
// goes to the bus in out. wait, when not nil, is closed once the proxy
// knows the owners of the policy's names; the client must not be read
// before.
func (cl *client) fromClientMessage(rd *reader, m []byte, out *batch) (wait chan struct{}, err error) {
	if !cl.r.filter {
		var hdr header
		h := &hdr
		if err := h.parse(m, false); err != nil {
			return nil, err
		}
		fds, err := rd.takeFDs(h.unixFDs)
		if err != nil {
			return nil, err
		}
		return nil, out.add(m, fds)
	}
	var hdr header
	h := &hdr
	if err := h.parse(m, true); err != nil {
		return nil, err
	}
	fds, err := rd.takeFDs(h.unixFDs)
	if err != nil {
		return nil, err
	}
	send, ops, wait, err := cl.filterClient(h, m, fds)
	if err != nil || send == nil {
		return nil, err
	}
	if !send.keepFDs {
		fds = nil
	}
	if err := out.add(send.b, fds); err != nil {
		return nil, err
	}
	if len(ops) > 0 {
		err := out.add(ops, nil)
		if cap(ops) == initialBufSize {
			p := ops[:initialBufSize]
			bufPool.Put(&p)
		}
		if err != nil {
			return nil, err
		}
	}
	return wait, nil
}

// outgoing is a message to send on, with or without the fds of the
// message it came from.
type outgoing struct {
	b       []byte
	keepFDs bool
}

// filterClient decides on a message from the client, with mu taken, and
// registers the reply it expects. It closes fds unless it sends them on.
func (cl *client) filterClient(h *header, m []byte, fds []int) (send *outgoing, ops []byte, wait chan struct{}, err error) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	// Serials are not rewritten, so they need not increase (0.1.4 wanted
	// that, and dropped godbus clients whose goroutines send out of
	// order); they must stay below the proxy's own range, as in 0.1.6+.
	if h.serial >= firstFakeSerial {
		closeFDs(fds)
		return nil, nil, nil, ErrBadSerial
	}
	if cl.px.trace != nil {
		cl.traceOutgoing(h)
	}

	expect := expectNone
	hello := isBusCall(h) && h.member == "Hello"
	if hello {
		expect = expectHello
	}
	v, rewrite := cl.clientVerdict(h, m, &expect)
	if v == pass && generatesReply(h) && expect == expectNone {
		expect = expectNormal
	}
	switch {
	case v == pass && rewrite == nil:
		send = &outgoing{b: m, keepFDs: true}
	case generatesReply(h):
		// Answer through the bus: a Ping with the caller's serial keeps
		// the answer in order with the replies to its earlier calls. (A
		// refused call that wants no reply is just dropped; xdg-dbus-proxy
		// pings for some and keeps their expectation forever.)
		closeFDs(fds)
		if rewrite == nil {
			rewrite = &expectation{kind: expectRewrite, errName: errAccessDenied}
			if v == hide {
				rewrite.errName = errUnknown
				if strings.HasPrefix(h.dest, ":") || h.flags&flagNoAutoStart != 0 {
					rewrite.errName = errNoOwner
				}
				cl.px.tracef("*HIDDEN* (ping)")
			} else {
				cl.px.tracef("*DENIED* (ping)")
			}
		}
		send = &outgoing{b: newCall(h.serial, h.flags, "", "/", "org.freedesktop.DBus.Peer", "Ping").bytes()}
		cl.expect(h.serial, *rewrite)
		expect = expectNone
	default:
		closeFDs(fds)
		if v == hide {
			cl.px.tracef("*HIDDEN*")
		} else {
			cl.px.tracef("*DENIED*")
		}
		return nil, nil, nil, nil
	}
	if expect != expectNone {
		cl.expect(h.serial, expectation{kind: expect})
	}
	if hello {
		ops = cl.initialNameOps()
		wait = cl.initDone
	}
	return send, ops, wait, nil
}

// clientVerdict decides on a message from the client, with mu held. A
// non-nil rewrite means the call is answered by the proxy (as a Ping round
// trip) with that answer.
func (cl *client) clientVerdict(h *header, m []byte, expect *expectKind) (verdict, *expectation) {
	if h.typ == typeMethodReturn || h.typ == typeError {
		// Only answers to calls the client received, sent back to the
		// peer that made them.
		k := callKey{h.dest, h.replySerial}
		if _, ok := cl.fromClient[k]; ok {
			delete(cl.fromClient, k)
			return pass, nil
		}
		return deny, nil
	}
	if h.hasReplySerial {
		return deny, nil // a call or signal quoting a reply serial
	}
	var matched []*filter
	l := cl.level(h.dest, &matched)
	if l < LevelSee {
		return hide, nil
	}
	if l < LevelTalk {
		return deny, nil
	}
	if h.dest != busName {
		if l == LevelOwn || anyMatches(matched, kindCall, h) {
			return pass, nil
		}
		return deny, nil
	}
	if h.typ == typeMethodCall && h.iface == "org.freedesktop.DBus.Introspectable" {
		return pass, nil
	}
	if !isBusCall(h) {
		return deny, nil
	}
	switch h.member {
	case "Hello", "RemoveMatch", "GetId":
		return pass, nil
	case "AddMatch":
		if args, ok := h.stringArgs(m, 1); ok && isEavesdrop(args[0]) {
			cl.px.tracef("*DENIED* (ping)")
			return deny, &expectation{kind: expectRewrite, errName: errAccessDenied}
		}
		return pass, nil
	case "ListNames", "ListActivatableNames":
		*expect = expectListNames
		return pass, nil
	case "NameHasOwner", "GetNameOwner":
		if cl.arg0Level(h, m, LevelSee) >= LevelSee {
			return pass, nil
		}
		if h.member == "GetNameOwner" {
			return deny, &expectation{kind: expectRewrite, errName: errNoOwner}
		}
		return deny, &expectation{kind: expectRewrite, boolVal: false}
	case "RequestName", "ReleaseName", "ListQueuedOwners":
		return cl.needLevel(h, m, LevelOwn), nil
	case "GetConnectionUnixProcessID", "GetConnectionCredentials", "GetAdtAuditSessionData",
		"GetConnectionSELinuxSecurityContext", "GetConnectionUnixUser":
		return cl.needLevel(h, m, LevelSee), nil
	case "StartServiceByName":
		return cl.needLevel(h, m, LevelTalk), nil
	case "UpdateActivationEnvironment", "BecomeMonitor":
		return deny, nil
	}
	cl.px.log.Warn("unknown bus method", "method", strings.Clone(h.member))
	return deny, nil
}

// arg0Level returns the level of the name in the first argument of a bus
// call (LevelNone if there is none), tracing when it is below need.
func (cl *client) arg0Level(h *header, m []byte, need Level) Level {
	args, ok := h.stringArgs(m, 1)
	if !ok {
		return LevelNone
	}
	l := cl.level(args[0], nil)
	if l < need {
		cl.px.tracef("Filtering message due to arg0 %s, policy: %d (required %d)", args[0], int(l), int(need))
	}
	return l
}

// needLevel passes a bus call about the name in its first argument if the
// client has level need on it; otherwise it hides the name if the client
// cannot see it and denies the call if it can.
func (cl *client) needLevel(h *header, m []byte, need Level) verdict {
	l := cl.arg0Level(h, m, need)
	switch {
	case l >= need:
		return pass
	case l < LevelSee:
		return hide
	default:
		return deny
	}
}

// fromBusMessage filters one message from the bus and queues what goes to
// the client in out.
func (cl *client) fromBusMessage(rd *reader, m []byte, out *batch) error {
	if !cl.r.filter {
		var hdr header
		h := &hdr
		if err := h.parse(m, false); err != nil {
			return err
		}
		fds, err := rd.takeFDs(h.unixFDs)
		if err != nil {
			return err
		}
		return out.add(m, fds)
	}
	var hdr header
	h := &hdr
	if err := h.parse(m, true); err != nil {
		return err
	}
	fds, err := rd.takeFDs(h.unixFDs)
	if err != nil {
		return err
	}
	send, ops := cl.busVerdict(h, m)
	if len(ops) > 0 {
		if err := cl.toBus.write(ops, nil); err != nil {
			closeFDs(fds)
			return err
		}
	}
	if send == nil {
		closeFDs(fds)
		return nil
	}
	return out.add(send, fds)
}

// busVerdict returns what to send the client for the bus message m (nil:
// nothing) and made-up calls to send the bus.
func (cl *client) busVerdict(h *header, m []byte) (send, ops []byte) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.px.trace != nil {
		cl.traceIncoming(h)
	}
	send = m
	switch {
	case h.typ == typeMethodReturn || h.typ == typeError:
		e, ok := cl.takeExpectation(h.replySerial)
		if !ok {
			cl.px.tracef("*Unexpected reply*")
			return nil, nil
		}
		switch e.kind {
		case expectHello:
			if h.typ == typeMethodReturn {
				if args, ok := h.stringArgs(m, 1); ok {
					cl.raiseUnique(args[0], LevelTalk)
				}
			}
		case expectRewrite:
			cl.px.tracef("*REWRITTEN*")
			if e.errName != "" {
				send = errorReply(h.serial, h.replySerial, e.errName)
			} else {
				send = boolReply(h.serial, h.replySerial, e.boolVal)
			}
		case expectFakeListing:
			if h.typ == typeMethodReturn {
				h.eachString(m, func(n string) {
					if !strings.HasPrefix(n, ":") && cl.r.wellKnown(n, nil) > LevelNone {
						ops = append(ops, cl.getNameOwner(strings.Clone(n))...)
					}
				})
			}
			cl.px.tracef("*SKIPPED*")
			cl.initAnswered()
			return nil, ops
		case expectFakeOwner:
			if h.typ == typeMethodReturn {
				if args, ok := h.stringArgs(m, 1); ok {
					cl.addOwned(args[0], e.name)
				}
			}
			cl.px.tracef("*SKIPPED*")
			cl.initAnswered()
			return nil, nil
		case expectFakeMatch:
			cl.px.tracef("*SKIPPED*")
			cl.initAnswered()
			return nil, nil
		case expectListNames:
			if h.typ == typeMethodReturn {
				var keep []string // sharing m's memory, encoded at once
				if !h.eachString(m, func(n string) {
					if cl.level(n, nil) >= LevelSee {
						keep = append(keep, n)
					}
				}) {
					return nil, nil
				}
				send = namesReply(h, keep)
			}
		}
	case h.hasReplySerial:
		return nil, nil // a call or signal quoting a reply serial
	case h.typ == typeSignal && h.sender == busName && h.iface == busName && h.member == "NameOwnerChanged":
		if !cl.nameOwnerChangedVisible(h, m) {
			return nil, nil
		}
	}
	if h.typ == typeSignal && h.dest == "" {
		var matched []*filter
		l := cl.level(h.sender, &matched)
		if l != LevelOwn && !(l == LevelTalk && anyMatches(matched, kindBroadcast, h)) {
			cl.px.tracef("*FILTERED IN*")
			return nil, ops
		}
	}
	if strings.HasPrefix(h.sender, ":") {
		// A peer that wrote to the client becomes visible to it.
		cl.raiseUnique(h.sender, LevelSee)
	}
	if generatesReply(h) {
		if cl.fromClient == nil {
			cl.fromClient = map[callKey]struct{}{}
		}
		cl.fromClient[callKey{strings.Clone(h.sender), h.serial}] = struct{}{}
	}
	return send, ops
}

// nameOwnerChangedVisible reports whether the client may see this
// NameOwnerChanged signal, and learns the new owner of a visible name.
func (cl *client) nameOwnerChangedVisible(h *header, m []byte) bool {
	args, ok := h.stringArgs(m, 3)
	if !ok {
		return false
	}
	name, newOwner := args[0], args[2]
	if cl.level(name, nil) < LevelSee && !(cl.r.sloppy && strings.HasPrefix(name, ":")) {
		return false
	}
	if !strings.HasPrefix(name, ":") && newOwner != "" {
		cl.addOwned(newOwner, name)
	}
	return true
}

func orString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (cl *client) traceOutgoing(h *header) {
	dest := orString(h.dest, "(no dest)")
	switch h.typ {
	case typeMethodCall:
		cl.px.tracef("C%d: -> %s call %s.%s at %s", h.serial, dest, h.iface, h.member, h.path)
	case typeMethodReturn:
		cl.px.tracef("C%d: -> %s return from B%d", h.serial, dest, h.replySerial)
	case typeError:
		cl.px.tracef("C%d: -> %s return error %s from B%d", h.serial, dest, orString(h.errName, "(no error)"), h.replySerial)
	case typeSignal:
		cl.px.tracef("C%d: -> %s signal %s.%s at %s", h.serial, orString(h.dest, "all"), h.iface, h.member, h.path)
	}
}

func (cl *client) traceIncoming(h *header) {
	sender := orString(h.sender, "(no sender)")
	switch h.typ {
	case typeMethodCall:
		cl.px.tracef("B%d: <- %s call %s.%s at %s", h.serial, sender, h.iface, h.member, h.path)
	case typeMethodReturn:
		cl.px.tracef("B%d: <- %s return from C%d", h.serial, sender, h.replySerial)
	case typeError:
		cl.px.tracef("B%d: <- %s return error %s from C%d", h.serial, sender, orString(h.errName, "(no error)"), h.replySerial)
	case typeSignal:
		cl.px.tracef("B%d: <- %s signal %s.%s at %s", h.serial, sender, h.iface, h.member, h.path)
	}
}
