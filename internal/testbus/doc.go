// Package testbus runs a private dbus-daemon for one test, so tests never
// touch the ambient session or system bus.
//
// Glossary:
//   - Bus: one dbus-daemon started by New (session type) or NewSystem
//     (system type), listening on a unix socket in a directory of its own
//     and stopped when the test ends.
//   - Service dir: the <servicedir> of the generated configuration; a
//     .service file there (see AddService) makes its name D-Bus activatable.
//   - Activated service: a process the daemon starts on demand. It runs in
//     the daemon's process group and is killed with it at teardown.
//
// The generated policy allows everything (any uid may connect, own any name,
// send and eavesdrop), since tests run as root, as the unprivileged test
// user, and connect from processes of other uids.
package testbus
