// Package portals implements porthole-portal, the frontend of the desktop
// portals: the org.freedesktop.portal.* interfaces on the bus name
// org.freedesktop.portal.Desktop, compatible with xdg-desktop-portal 1.20.
//
// The frontend identifies each caller, checks its permissions and forwards
// dialogs to a backend (org.freedesktop.impl.portal.*) chosen through
// *.portal files and portals.conf.
//
// Glossary:
//
//   - caller: one D-Bus connection (unique name) calling a portal; its
//     AppInfo is looked up once and cached until it disconnects.
//   - app id: the Flatpak application id of a caller, "" for most host
//     processes.
//   - backend (impl): the process owning an org.freedesktop.impl.portal.*
//     interface, e.g. xdg-desktop-portal-gtk; described by a *.portal file.
//   - request: an org.freedesktop.portal.Request object the frontend exports
//     for one asynchronous call; its Response signal carries the result and
//     goes to the caller only.
//   - session: an org.freedesktop.portal.Session object living across calls
//     (Location, Inhibit monitors).
//   - handle: the object path of a request or session, derived from the
//     caller's unique name and its handle_token / session_handle_token.
//   - permission store: org.freedesktop.impl.portal.PermissionStore, where
//     per-app decisions (tables such as "notifications") are kept.
package portals
