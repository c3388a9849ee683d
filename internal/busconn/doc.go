// Package busconn connects the services to a message bus so that godbus
// never decodes a file descriptor itself.
//
// Why: godbus v5.2.4 (its unix transport) decodes an h value as a
// dbus.UnixFD when the message carries descriptors, but builds arrays
// and dictionaries of h with the element type dbus.UnixFDIndex. Putting a
// UnixFD into such a slice or map panics inside reflect (with a string,
// which godbus's decoder re-panics), on godbus's reader goroutine, so the
// process dies. Every shape with h as an array element or dictionary key
// or value does it, at any depth: "ah", "aah", "a{sh}", "a{hs}", an "ah"
// inside a variant (an a{sv} option such as Email's attachment_fds) or in
// a struct. Any client can send one. Besides, a message counting more
// descriptors than it carries makes that transport index past its slice,
// and a message godbus fails to decode (a dictionary keyed by b or g)
// closes the connection.
//
// How: Dial authenticates on the socket itself (with descriptor passing)
// and hands godbus an io.ReadWriteCloser, so godbus runs its plain
// transport: it decodes every h as a dbus.UnixFDIndex and never sees a
// descriptor. In the reader, on godbus's own goroutine (no extra hop),
// each message is framed, its descriptors received with recvmsg, and
// every h value in it, wherever it sits, overwritten with a token. Godbus
// decodes only messages this walk accepted, with godbus's own nesting and
// signature limits, so no h can hide from it.
//
// Ownership: a method call's descriptors stay with the connection until
// the call's reply is written; a handler claims the ones it keeps with
// TakeFD, the rest are closed then. Descriptors nothing references, those
// of signals and those of malformed messages are closed on receipt (their
// h values read InvalidFD). Descriptors in replies to our own calls wait
// for TakeFD (the oldest close past a small bound). On the way out, an h
// value must be a token: one received and not yet taken (forwarding an
// a{sv} option passes the descriptor on), one from LendFD (the caller
// keeps its descriptor) or one from ReplyFD (a handler's result, closed
// once the reply is out); the transport attaches the descriptors and
// counts them in the header.
//
// Dropped: a message the walk rejects never reaches godbus. The bus
// validates messages, so this is only what godbus itself would fail on
// (a dictionary keyed by b or g, nesting past godbus's limits); a method
// call dropped so gets no reply.
//
// Fast path: Options.Fast may answer hot method calls (no descriptors)
// straight from the reader, before godbus decodes them: no decoding, no
// goroutine per call, no reflection. It must not block; the replies it
// writes number their serials down from 2^32-1, apart from godbus's.
//
// Glossary:
//   - token: the number godbus sees in place of an h value; it names a
//     descriptor held here, never a descriptor number.
//   - lease: the descriptors of one incoming method call, closed when the
//     call is answered unless taken.
//   - lend: let one outgoing message carry a descriptor the caller keeps.
//   - fast call: a method call a FastHandler answers without godbus.
package busconn
