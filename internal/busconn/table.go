package busconn

import (
	"golang.org/x/sys/unix"
)

// InvalidFD is the value an h argument carries when its message had no
// descriptor for it (an index out of range, a signal, a descriptor the
// sender did not attach).
const InvalidFD = ^uint32(0)

// maxReplyFDs bounds the descriptors kept for replies to our own calls
// that nobody took; past it the oldest are closed.
const maxReplyFDs = 64

// callKey names a method call: its sender and serial.
type callKey struct {
	sender string
	serial uint32
}

// entry is one descriptor known to the table.
type entry struct {
	fd    int
	lent  bool   // lent by the process for one outgoing message; not ours to close
	lease *lease // the incoming call it came with, or nil
}

// lease holds the descriptors of one incoming method call until its reply
// is sent.
type lease struct {
	tokens  []uint32
	swallow bool // the caller asked for no reply; ours is not sent
}

// table maps the tokens godbus sees in place of h values to descriptors.
// Tokens count up and are never reused while the connection lives, so a
// stale token never names a newer descriptor. Guarded by Transport.mu.
type table struct {
	next    uint32
	fds     map[uint32]entry
	calls   map[callKey]*lease
	replies []uint32 // tokens of reply descriptors, oldest first
}

func (t *table) token() uint32 {
	t.next++
	if t.next >= 1<<31 {
		t.next = 1
	}
	return t.next
}

// add registers fd and returns its token.
func (t *table) add(e entry) uint32 {
	if t.fds == nil {
		t.fds = map[uint32]entry{}
	}
	tok := t.token()
	for {
		if _, busy := t.fds[tok]; !busy {
			break
		}
		tok = t.token()
	}
	t.fds[tok] = e
	return tok
}

// take removes tok and returns its descriptor; lent descriptors are not
// handed out.
func (t *table) take(tok uint32) (int, bool) {
	e, ok := t.fds[tok]
	if !ok || e.lent {
		return -1, false
	}
	delete(t.fds, tok)
	return e.fd, true
}

// release closes the descriptors of l that nobody took.
func (t *table) release(l *lease) {
	for _, tok := range l.tokens {
		if e, ok := t.fds[tok]; ok && e.lease == l {
			unix.Close(e.fd)
			delete(t.fds, tok)
		}
	}
}

// addReply keeps a reply's descriptor, closing the oldest past the bound.
func (t *table) addReply(fd int) uint32 {
	tok := t.add(entry{fd: fd})
	t.replies = append(t.replies, tok)
	for len(t.replies) > maxReplyFDs {
		old := t.replies[0]
		t.replies = t.replies[1:]
		if e, ok := t.fds[old]; ok && e.lease == nil && !e.lent {
			unix.Close(e.fd)
			delete(t.fds, old)
		}
	}
	return tok
}

// closeAll closes every descriptor the table owns.
func (t *table) closeAll() {
	for tok, e := range t.fds {
		if !e.lent {
			unix.Close(e.fd)
		}
		delete(t.fds, tok)
	}
	t.calls = nil
	t.replies = nil
}
