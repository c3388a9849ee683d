// Package object holds the OSTree object formats: checksums, object names,
// dirtree, dirmeta and commit variants, content (file) headers, the archive
// .filez stream and the bare-user "user.ostreemeta" xattr. It does no I/O
// beyond the io.Reader/io.Writer it is handed.
//
// Glossary:
//   - Checksum: SHA-256 of an object, 32 raw bytes; written as 64 lowercase
//     hex characters.
//   - Object name: a checksum plus an object type; on disk
//     objects/XX/<62 hex>.<suffix>.
//   - Metadata object: dirtree, dirmeta, commit; stored verbatim and hashed
//     over exactly those bytes (normal-form GVariant).
//   - Content object: a regular file or a symlink; its checksum covers a
//     length-prefixed header (uid, gid, mode, rdev, symlink target, xattrs)
//     followed by the file bytes.
//   - .filez: the archive repo encoding of a content object: a header that
//     also carries the size, followed by raw deflate of the content.
//     Built with cgo, raw deflate goes through the system zlib (the bytes
//     then equal ostree's at the same level); without cgo, compress/flate.
//   - BE fields: ostree byte-swaps uid/gid/mode, commit timestamps and the
//     archive size to big-endian before serialising; GVariant framing is LE.
//
// All parsers are strict: they accept only the normal form ostree writes and
// return errors wrapping ErrInvalid, never panic.
package object
