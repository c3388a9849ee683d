// Package appinfo writes and parses /.flatpak-info, the key file every
// sandbox carries at its root and that xdg-desktop-portal reads through
// /proc/PID/root/.flatpak-info to identify the app.
//
// Glossary:
//   - Info: the [Application] (or [Runtime]) and [Instance] groups, with
//     the keys in the order Flatpak 1.14 writes them.
//   - Context: the flattened permission groups ([Context], [Session Bus
//     Policy], [System Bus Policy], [Environment], [Policy …]) that follow,
//     kept as key-file text so this package needs no permission model.
package appinfo
