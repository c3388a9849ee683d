// Package installation manages a Flatpak-layout installation: a
// bare-user-only repository with its remotes, and the deployments of apps
// and runtimes pulled into it.
//
// Layout (as Flatpak 1.14):
//
//	DIR/repo/                                 bare-user-only repository
//	DIR/app/ID/current -> ARCH/BRANCH
//	DIR/app/ID/ARCH/BRANCH/active -> COMMIT   switched atomically (rename)
//	DIR/app/ID/ARCH/BRANCH/COMMIT/{files,export,metadata,deploy}
//	DIR/runtime/ID/ARCH/BRANCH/…              the same for runtimes
//	DIR/exports/{bin,share}/…                 symlinks into active exports
//	DIR/appstream/REMOTE/ARCH/active -> COMMIT   appstream2 data for search
//	DIR/history                               one line per operation
//	DIR/.removed/                             deployments being deleted
//
// Glossary:
//   - Deployment: a checkout of one commit of a ref, hard-linked from the
//     repository; the one `active` names is what runs.
//   - deploy file: (ssasta{sv}) origin remote, commit, subpaths, installed
//     size (BE), metadata (deploy-version, timestamp, runtime, …).
//   - Origin: the remote a ref was installed from.
//   - Staging deployment: ARCH/BRANCH/.COMMIT-*; renamed into place only
//     when complete, so an interrupted install leaves nothing listed.
//   - Checks before a deployment goes live: the commit's ostree.ref-binding
//     and xa.ref name the ref, its xa.metadata equals the deployed
//     /metadata and (on install) the remote summary's xa.cache entry;
//     signatures are checked by store/pull as the remote is configured.
package installation
