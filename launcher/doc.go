// Package launcher starts a process in a Flatpak-style sandbox built
// natively in Go: user, mount, pid (and ipc, net) namespaces, a tmpfs
// root assembled from bind mounts, pivot_root, dropped capabilities,
// no_new_privs and Flatpak's seccomp filter.
//
// Glossary:
//   - Spec: plain data (JSON-able) describing one sandbox: the command,
//     its environment, the namespaces and the ordered mount operations.
//     Validate checks it; Start runs it.
//   - Init stage: the re-exec'd helper (cmd/porthole-init, pure Go without
//     cgo, or any binary calling MaybeInit first) that runs as pid 1 of
//     the new pid namespace. It receives the Spec over a pipe (wire.go),
//     builds the root, pivots into it, confines itself and starts the
//     command from its main thread, then reaps children, forwards
//     signals and passes the command's exit status through (128+signal
//     when it was killed) on the status pipe and as its own.
//   - Main thread: pid 1's main goroutine stays locked on it; it confines
//     itself once the root is built (bounding set, no_new_privs, the
//     seccomp BPF compiled by the parent with libseccomp, capabilities)
//     and forks every command.
//   - Exec stage: in cgo binaries only (tests), the helper re-exec'd once
//     more inside the new root, which drops every privilege on one locked
//     thread and execs the command.
//   - Status pipe: the last descriptor given to pid 1, where it writes the
//     command's exit status before exiting; Wait returns on it.
//   - Init error: a failure in either stage, sent back to the parent as
//     JSON over a close-on-exec pipe, so the parent sees either an error or
//     EOF (the command was exec'd).
//   - Enter socket: a unix socket in the instance directory on which pid 1
//     accepts "enter" requests and spawns a command inside the sandbox
//     (exec stage and all), so `porthole enter` needs no setns and no cgo.
package launcher
