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
package runspec
