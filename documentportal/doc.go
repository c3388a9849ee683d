// Package documentportal implements org.freedesktop.portal.Documents
// (version 5) and org.freedesktop.portal.FileTransfer (version 1), and the
// FUSE file system at $XDG_RUNTIME_DIR/doc through which sandboxed apps
// reach the files they were given, compatible with xdg-document-portal.
//
// Glossary:
//   - Document: one exported file or directory, named by a document id.
//     A file document exposes one name (the file's basename) inside
//     <mount>/<id>/; a directory document exposes the real directory tree
//     as <mount>/<id>/<dirname>/.
//   - Entry: the record of a document: host path, dev/ino of the parent
//     directory (file documents) or of the directory itself (directory
//     documents), flags, and per-app permissions. Persistent entries live in
//     the permission store's "documents" table with xdg-document-portal's
//     data layout (ay path, t dev, t ino, u flags); transient ones only in
//     memory.
//   - Permission: read, write, grant-permissions, delete, per app id.
//     Host callers implicitly hold them all.
//   - Caller: the D-Bus peer of a method call, identified from
//     /proc/PID/root/.flatpak-info: a sandboxed app (flatpak) or the host.
//   - View: the host view is <mount>/ (all documents); an app's view is
//     <mount>/by-app/APPID/ (only documents APPID may read). Flatpak-style
//     launchers bind-mount an app's view onto /run/user/UID/doc and
//     /run/flatpak/doc inside the sandbox.
//   - Domain: one document as seen from one view (document id + app id,
//     "" for the host view); permissions are checked per domain.
//   - Physical node: a FUSE node backed by a real file or directory,
//     opened with O_PATH and keyed by its dev/ino; its inode number is a
//     hash of (dev, ino, document, app), so it is stable across lookups
//     and restarts.
//   - Temporary file: a name other than the basename created in a file
//     document's directory; backed by a hidden real file
//     ".xdp-NAME-XXXXXX" next to the real file and visible only in that
//     domain. Renaming it onto the basename is an atomic rename on the
//     host (the save-via-temp-file pattern).
//   - Transfer: a FileTransfer session: a key, the files a sender added,
//     exported as documents for the app that retrieves them.
package documentportal
