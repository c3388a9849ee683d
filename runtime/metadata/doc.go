// Package metadata reads and writes the `metadata` key file at the root of a
// Flatpak build directory, commit and deployment, the way flatpak build-init
// and build-finish write it.
//
// Glossary:
//   - Main group: [Application] for apps, [Runtime] for runtimes; holds
//     name, runtime, sdk, command, required-flatpak, tags.
//   - Permission groups: [Context], [Session Bus Policy], [System Bus Policy],
//     [Environment], [Policy …]; runtime/permissions parses and writes them.
//   - Extension group: [Extension NAME] (extension points) and [ExtensionOf].
package metadata
