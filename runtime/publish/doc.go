// Package publish builds and publishes Flatpak apps and runtimes: the build
// directory (build-init, build-finish), commits into an archive repository
// (build-export, build-sign) and the served index of that repository
// (build-update-repo: summary, summary.idx, summaries/, appstream branches).
//
// Glossary:
//   - Build directory: DIR/metadata, DIR/files (the future /app or /usr),
//     DIR/export (desktop files, icons, D-Bus services exported to the
//     host) and DIR/var (scratch, never exported).
//   - Export: a commit whose tree is /metadata, /files and /export with
//     canonical permissions and Flatpak's commit metadata (xa.metadata,
//     ref and collection bindings, installed and download sizes).
//   - xa.cache: the summary key mapping each ref to (installed size,
//     download size, metadata) so clients need not fetch commits.
//   - Subsummary: one ostree summary per architecture ("ARCH") and per
//     subset and architecture ("SUBSET-ARCH", the refs whose xa.subsets
//     name it), served gzipped as summaries/<sha256>.gz and listed (with
//     its digest and older digests) in summary.idx.
//   - Summary delta: summaries/OLD-NEW.delta, Flatpak's "xadf" diff from an
//     older subsummary still in the history to the current one.
//   - Sparse data: per-ref eol/eolr (from ostree.endoflife and
//     ostree.endoflife-rebase) in xa.sparse-cache and in subsummary refs.
package publish
