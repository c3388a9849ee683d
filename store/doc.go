// Package store is an OSTree-compatible repository on disk: loose objects
// in the archive-z2, bare, bare-user and bare-user-only modes, refs,
// detached metadata, and the operations on top (commit, checkout,
// traverse, fsck, prune). Object formats without I/O live in store/object.
//
// # API (stable names; ctx first)
//
//	Init(ctx, dir, mode) / Open(ctx, dir) → *Repo; Close, Path, Mode
//	Config() *Config (a copy); ConfigValue(group, key); UpdateConfig(fn)
//	Lock(ctx, exclusive) (unlock, error)           OFD lock on .lock, like ostree
//	HasObject(ctx, object.ObjectName)
//	ReadMetadata / WriteMetadata(ctx, type, data, want)
//	WriteContent(ctx, hdr, content, want)          any mode (bare-user-only: modes ⊆ 0775)
//	WriteArchivedContent(ctx, filez, want)         a .filez as served
//	OpenContent(ctx, sum) (hdr, content)           any mode
//	ReadArchivedContent(ctx, sum)                  a .filez stream
//	ReadCommitMeta / WriteCommitMeta(ctx, commit)  detached a{sv}
//	ResolveRef, SetRef(ctx, remote, ref, *sum), ListRefs(ctx, remote),
//	ListRemoteRefs, ListMirrorRefs, SetMirrorRef
//	MarkCommitPartial / ClearCommitPartial / IsCommitPartial
//	Flush(ctx); ListObjects(ctx, fn); DeleteObject(ctx, name)
//	Commit(ctx, repo, dir, CommitOptions)         parallel hashing+compression
//	Checkout(ctx, repo, refspec, dest, CheckoutOptions)
//	Traverse(ctx, repo, commit, depth, set)        reachable objects
//	Fsck(ctx, repo, FsckOptions) *FsckResult       each bad object by name
//	Prune(ctx, repo, PruneOptions) *PruneResult    ostree's semantics
//
// Errors: ErrObjectNotFound, ErrRefNotFound, ErrCorrupt (and
// *ChecksumMismatchError unwrapping to it; parse failures also wrap
// object.ErrInvalid), ErrLocked, ErrUnsupported (and *InvalidModeError
// unwrapping to it), ErrEscape (checkout).
//
// # Durability and concurrency
//
// Objects are staged in the writer's own tmp/staging-* directory (held
// with an flock; files spread over subdirectories), verified, then made
// durable with one syncfs and renamed into objects/XX/ by Flush (which
// SetRef and Close call; [core] fsync=false skips the syncfs, as in
// ostree). A ref is written (temp file,
// fsync, rename) only after the objects it needs are in place, so a crash
// at any point, kill -9 included, leaves a repository that passes fsck; the
// dead writer's staging directory is removed by the next Flush or prune.
// Writers hold the shared repository lock (an OFD lock on .lock, which
// ostree also takes) from their first staged object until Flush, and
// Commit holds it throughout; prune takes it exclusively. Callers that
// write many objects through the Repo API (pull) should hold
// Lock(ctx, false) for the whole operation too.
//
// # Glossary
//
//   - Repo mode: archive-z2 (compressed .filez, servable over HTTP), bare
//     (files as themselves, needs root), bare-user (regular files with a
//     user.ostreemeta xattr), bare-user-only (files with their mode only;
//     what flatpak installations use).
//   - Ref: a name under refs/heads (local), refs/remotes/REMOTE or
//     refs/mirrors/COLLECTION-ID, holding a commit checksum.
//   - Refspec: "REMOTE:REF", "REF", a checksum or unique prefix, with
//     optional trailing "^" for the parent.
//   - Detached metadata: the .commitmeta next to a commit (signatures).
//   - Partial commit: a commit whose objects are not all present
//     (state/<commit>.commitpartial).
//   - Staging: objects written but not yet renamed into objects/.
package store
