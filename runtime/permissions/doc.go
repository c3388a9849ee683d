// Package permissions implements Flatpak's permission model: the
// [Context], [Session Bus Policy], [System Bus Policy], [Environment] and
// [Policy SUB] groups of app metadata, override files and the run command
// line, with Flatpak 1.14's grammar and merge rules.
//
// Glossary:
//   - Context: one layer of permissions. Bit sets (shared, sockets,
//     devices, features) carry a value and a valid mask, so a later layer
//     can clear a bit with "!x"; filesystems, bus policies and environment
//     variables are keyed tables where a later layer replaces the entry.
//   - Merge order: app metadata → system global override → system app
//     override → user global override → user app override → command line.
//     Each step is Context.Merge.
//   - Flatten: drop the negations, giving the final answer written into
//     /.flatpak-info.
//   - Override file: <installation>/overrides/APP (or "global"), a key file
//     holding one unflattened Context.
//   - Table order: Flatpak keeps keyed entries in GLib hash tables and
//     writes them in table order. Table reproduces that order so files we
//     write are byte-identical to Flatpak's.
package permissions
