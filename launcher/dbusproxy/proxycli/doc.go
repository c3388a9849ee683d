// Package proxycli is the command line of `porthole dbus-proxy`, in
// xdg-dbus-proxy's grammar, over package dbusproxy. It is shared by the
// porthole binary and by porthole-dbus-proxy, the small pure-Go binary that
// `porthole dbus-proxy` hands itself over to so that the proxy starts as
// fast as xdg-dbus-proxy (see cmd/porthole/cmd_dbusproxy.go). Being a
// command's front end, it parses arguments and prints, which libraries of
// this project otherwise never do.
//
// # Glossary
//
//   - Group: one ADDRESS PATH pair and the options after it (the policy of
//     one proxy). One process serves every group.
//   - Sync fd: --fd=N; 'x' is written to it once every socket listens, and
//     the process exits when its other end hangs up.
//   - Args fd: --args=N; NUL-separated arguments read from it are spliced
//     in where --args stood.
package proxycli
