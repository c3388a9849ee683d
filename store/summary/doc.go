// Package summary reads and writes OSTree summary files and their
// signatures, and prints them like `ostree summary --view`.
//
// Glossary:
//   - Summary: the file `summary` at the root of a served repository, a
//     GVariant (a(s(taya{sv}))a{sv}): the refs, sorted by name (strcmp,
//     clients binary-search them), each with its commit's size, checksum and
//     per-ref metadata, then the additional metadata of the repository.
//   - Per-ref metadata: ostree.commit.timestamp (t, big-endian) and, when the
//     commit has one, ostree.commit.version (s).
//   - Additional metadata: ostree.summary.mode, ostree.summary.last-modified
//     (t, BE), ostree.summary.tombstone-commits, ostree.summary.indexed-deltas,
//     ostree.static-deltas (delta name → sha256 of its superblock), and
//     optionally ostree.summary.collection-id / collection-map / expires,
//     plus whatever the caller adds.
//   - summary.sig: detached metadata ({'ostree.gpgsigs': <aay>}) holding
//     OpenPGP signatures over the exact summary bytes (see store/sign).
package summary
