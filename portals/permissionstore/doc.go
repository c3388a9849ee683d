// Package permissionstore implements org.freedesktop.impl.portal.PermissionStore
// (version 2), the service where portals keep the user's decisions, with
// the same tables, files and behaviour as xdg-permission-store, so both
// can serve one home directory.
//
// Glossary:
//   - Table: a named set of entries, one file $XDG_DATA_HOME/flatpak/db/TABLE
//     in GVDB format (package gvdb). Portals use one table each
//     ("notifications", "inhibit", "documents", "desktop-used-apps", …).
//   - Entry: the record of one id (a resource, e.g. a document id): a data
//     value (any GVariant, a byte 0 when never set) and, per app id, a list
//     of permission strings. On disk: (va{sas}) with apps sorted.
//   - Apps index: the file's second table, app → sorted ids where the app
//     has a non-empty permission list; kept for readers of the file.
//   - Durable reply: a method that changes a table replies only after the
//     new file was written, synced and renamed into place, so an
//     acknowledged write survives a crash. Changed is broadcast before the
//     write, as upstream does.
//   - Sequencer: calls are applied in the order the bus delivered them,
//     although godbus runs each handler in its own goroutine.
//   - History: upstream's file layout (and List order) depends on the order
//     of changes since the table was loaded, through GLib hash table order;
//     the store replays that bookkeeping, so after the same calls both
//     implementations write byte-identical files.
//   - Recorder: godbus decodes dictionaries into Go maps, losing the order
//     the caller sent; on unix-socket buses the store also watches the raw
//     incoming bytes and decodes the data of Set/SetValue from them
//     (wire.go), so dictionaries keep their order. Elsewhere they are
//     stored sorted by key.
//
// Differences from xdg-permission-store: table names containing '/' or
// equal to "." or ".." are refused with InvalidArgument instead of naming
// files outside the directory; ids and app ids over 65535 bytes are
// refused (upstream writes a damaged file).
package permissionstore
