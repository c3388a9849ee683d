// Package pull fetches commits and their objects from a remote OSTree
// archive repository into a local repository, verifying every object's
// checksum and, when the remote asks for it, the GPG signatures of commits
// and of the summary.
//
// Glossary:
//   - Remote: a [remote "NAME"] group in the repository config: url=,
//     gpg-verify= (default true), gpg-verify-summary= (default false),
//     gpgkeypath=; its keyring is <repo>/NAME.trustedkeys.gpg.
//   - Fetcher: gets one file of the remote repository by its relative path
//     ("summary", "objects/ab/cdef….dirtree"); HTTP(S) and file:// exist.
//   - Summary cache: tmp/cache/summaries/NAME and NAME.sig, the last
//     verified summary and signature; an unchanged summary.sig means the
//     cached summary is reused without fetching it again.
//   - Partial commit: state/<commit>.commitpartial exists while the objects
//     of a pulled commit are incomplete; a later pull of it walks its
//     stored dirtrees again to find what is missing.
//   - Ref binding: the commit metadata key ostree.ref-binding (as); a commit
//     that has it may only be pulled for a ref it lists.
//   - Resolved commits (Options.Commits): commits of refs the caller read
//     from a summary it verified (Flatpak's summary index), like ostree's
//     override-commit-ids; when every ref has one the summary is not
//     fetched. Commit signatures and ref bindings are checked as always.
//
// Sequence (like ostree 2022.7): summary.sig, summary, config (the remote
// must be an archive repo), then per commit its .commitmeta and .commit,
// then dirtree, dirmeta and .filez objects with many requests in flight.
// Refs move only after every object of every requested commit is stored
// and flushed. Static deltas are not fetched here; Options.Deltas (a DeltaPuller) is
// the seam where a delta implementation plugs in.
package pull
