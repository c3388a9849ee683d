package portalerr

import (
	"errors"
	"strings"

	"github.com/godbus/dbus/v5"
)

// D-Bus error names the services use.
const (
	// Prefix starts xdg-desktop-portal's error names (Failed,
	// InvalidArgument, NotFound, Exists, NotAllowed, Cancelled,
	// WindowDestroyed).
	Prefix = "org.freedesktop.portal.Error."
	// Failed is the name of errors no sentinel names.
	Failed = Prefix + "Failed"
	// AccessDenied is the bus's own name for a caller that may not act.
	AccessDenied = "org.freedesktop.DBus.Error.AccessDenied"
)

// Name pairs a sentinel with the D-Bus error name it stands for.
type Name struct {
	Err  error
	Name string
}

// Map converts err for a D-Bus caller: the first sentinel of names that
// err wraps picks the name and the message is the text after the
// sentinel's own; an error that is already a D-Bus error (a backend's)
// passes through; anything else is Failed with its whole text. nil stays
// nil.
func Map(err error, names []Name) *dbus.Error {
	if err == nil {
		return nil
	}
	for _, n := range names {
		if errors.Is(err, n.Err) {
			msg := strings.TrimPrefix(err.Error(), n.Err.Error()+": ")
			return dbus.NewError(n.Name, []any{msg})
		}
	}
	var de dbus.Error
	if errors.As(err, &de) {
		return &de
	}
	var dep *dbus.Error
	if errors.As(err, &dep) {
		return dep
	}
	return dbus.NewError(Failed, []any{err.Error()})
}
