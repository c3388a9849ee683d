// Package dbusproxy is a filtering D-Bus proxy compatible with
// xdg-dbus-proxy 0.1.4: sandboxed apps reach a bus only through it, and see,
// call and own only what their Policy allows.
//
// # Use
//
//	p, err := dbusproxy.SessionBusPolicy(appID, metadata["Session Bus Policy"])
//	l, err := dbusproxy.Listen(socketPath) // unlinks a stale socket first
//	err = dbusproxy.Serve(ctx, l, sessionBusAddress, p, &dbusproxy.Options{Logger: log})
//
// Serve runs until ctx is cancelled, then closes the listener (removing
// the socket) and every client. For finer control, New returns a *Proxy:
// Proxy.Serve accepts on a listener, Proxy.ServeConn proxies one client
// already connected (for example one end of a socketpair handed to the
// sandbox, which needs no socket file at all). Options.DialBus lets the
// launcher open the bus side itself, e.g. from a process inside the
// sandbox, so that the peer the bus and the portals see is the app
// (/proc/PID/root/.flatpak-info), as Flatpak achieves by running
// xdg-dbus-proxy inside bwrap.
//
// Policy is plain data: SessionBusPolicy, SystemBusPolicy and A11yBusPolicy
// build Flatpak's defaults (plus the [Session Bus Policy] or
// [System Bus Policy] entries, "none"/"see"/"talk"/"own"), Merge adds one
// policy to another, Args renders a policy as xdg-dbus-proxy options.
// `porthole dbus-proxy` is the xdg-dbus-proxy command line over this
// package (package proxycli): several ADDRESS PATH groups, --args=FD, 'x'
// on --fd once every socket listens, exit when that fd hangs up. To start as
// fast as xdg-dbus-proxy, the porthole binary hands that verb over, before
// its Go runtime starts, to the small pure-Go porthole-dbus-proxy installed
// beside it.
//
// # Glossary
//
//   - Client: one connection accepted from the sandbox. Each client gets its
//     own connection to the bus and its own name tracking; an error (bad
//     SASL line, malformed or oversized message, fds that do not match)
//     closes that client only.
//   - Level: NONE < SEE < TALK < OWN, the most a client may do with a name.
//     NAME.* gives the level to NAME and every dotted name below it. The
//     bus (org.freedesktop.DBus) is always TALK.
//   - Rule: [*|IFACE.*|IFACE.METHOD][@/path[/*]] for --call (which calls to
//     a name pass) and --broadcast (which signals from a name pass). A rule
//     makes its name TALK; --talk is a rule that matches everything.
//   - Unique name: ":1.42". It gets the highest level of every well-known
//     name it has ever owned (sticky), TALK for the client's own name, and
//     SEE for any peer that wrote to the client. The proxy learns owners
//     from NameOwnerChanged and, right after Hello, from made-up
//     AddMatch/GetNameOwner/ListNames calls; the client's next messages
//     wait until those are answered.
//   - Hidden: below SEE. Calls get ServiceUnknown (NameHasNoOwner for unique
//     names or with NO_AUTO_START), NameHasOwner says false, GetNameOwner
//     says NameHasNoOwner, ListNames leaves the name out, NameOwnerChanged
//     about it is dropped.
//   - Denied: SEE but not allowed: AccessDenied. Also AddMatch with
//     eavesdrop=, BecomeMonitor, UpdateActivationEnvironment and unknown bus
//     methods.
//   - Ping round trip: a refused call is forwarded as Peer.Ping with the
//     client's serial, and the bus's reply is replaced by the made-up
//     answer, so answers reach the client in the order it asked. Replies
//     pass only to calls that were let through, and the client may only
//     answer calls it received, to the peer that made them.
//   - Serials: client serials must stay below 0xFFFF0000, where the proxy's
//     own calls take theirs; they are passed on unchanged and need not
//     increase (as in xdg-dbus-proxy 0.1.6+; 0.1.4 rewrote them and dropped
//     clients that sent them out of order).
//   - fds: SCM_RIGHTS fds are queued per side and exactly unix_fds are sent
//     on with each message.
//
// Differences from xdg-dbus-proxy 0.1.4: header strings longer than 255
// bytes are accepted (0.1.5 fixed that bug), SASL may be pipelined (0.1.6),
// client serials are not rewritten and need not increase (fake calls use
// the high range, as in 0.1.6), the eavesdrop check and the reply checks
// follow Debian's security updates (0.1.4-3+deb12u2), the client also
// waits for exact-name GetNameOwner answers after Hello, not only wildcard
// ones, and a refused call that expects no reply is dropped without a Ping.
package dbusproxy
