// Package runspec is the one converter from a resolved app (deployment
// paths, metadata command) and its merged permission context to a
// launcher.Spec and the matching /.flatpak-info, following the layout
// `flatpak run` 1.14 builds (see docs/specs/sandbox.md §1).
//
// Glossary:
//   - Input: what was resolved: ids, files directories, commits, the
//     effective context and the command-line context.
//   - Host: facts about the caller: ids, home, environment, runtime dir.
//   - Prepare: Build's host-side effects, all idempotent: ~/.var/app/ID,
//     the per-app runtime dir, the instance directory and its info file,
//     and directories for ":create" grants.
//   - Export: one filesystem grant resolved to host paths, bound at the
//     same path in the sandbox (or hidden with a tmpfs when negated).
//     The export table (host path → read-only, read-write, hidden or
//     link) decides which --file-forwarding paths the sandbox already
//     sees (Flatpak's flatpak_exports_path_is_visible).
//   - Session: the run's one session-bus connection, asked at start-up
//     for the document portal's mount point (by-app/ID bound at
//     /run/flatpak/doc) and the accessibility bus address; it also
//     exports forwarded files (Documents.Add + GrantPermissions).
//   - Extension: an installed extension mounted under /app or /usr, in
//     priority order, with its ld.so.conf.d entry or LD_LIBRARY_PATH
//     part and merge-dirs links; listed as ID=COMMIT in /.flatpak-info.
//   - Scope: the transient systemd unit app-flatpak-ID-PID.scope the
//     launching process joins before the sandbox starts.
package runspec
