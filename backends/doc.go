// Package backends holds the org.freedesktop.impl.portal.* backends the
// user answers: GTK 3 dialogs for the file chooser, the app chooser and
// access prompts (backends/gtk, the one place besides the seccomp compiler
// where cgo is allowed, with a stub when cgo is off).
//
// Nothing is implemented yet; until then the portal frontend works with any
// backend found through *.portal files, such as Debian's
// xdg-desktop-portal-gtk.
package backends
