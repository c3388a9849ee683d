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
//	DIR/.removed/ID-COMMIT/                   replaced or uninstalled deployments
//	                                          a sandbox still runs from (retire.go)
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
//   - Summary index: summary.idx (+ summaries/DIGEST.idx.sig or
//     summary.idx.sig) names one subsummary per arch (SUBSET-ARCH with a
//     remote's xa.subset), fetched as summaries/DIGEST.gz or as a delta
//     summaries/OLD-NEW.delta from the cached older one; the plain summary
//     is read only when a remote has no index. Caches live in
//     repo/tmp/cache/summaries (REMOTE.idx, REMOTE.idx.sig,
//     REMOTE-ARCH-DIGEST.sub), not for file: remotes, as Flatpak's.
//   - Related refs: the extensions a metadata's [Extension NAME] groups
//     name (.Locale, .Debug, NAME.* with subdirectories=true); those
//     without no-autodownload are installed with their parent, autodelete
//     ones uninstalled with it.
//   - End of life: ostree.endoflife / ostree.endoflife-rebase commit keys,
//     eol / eolr in summaries' sparse data and in the deploy file.
//   - Tidy: removing what an interrupted deploy left (staging directories,
//     inactive deployments) and rebuilding exports; reruns do it.
package installation
