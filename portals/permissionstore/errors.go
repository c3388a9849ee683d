package permissionstore

import (
	"errors"

	"github.com/godbus/dbus/v5"
)

// Sentinel errors; dbusError maps them to the portal error names.
var (
	ErrNotFound        = errors.New("not found")
	ErrInvalidArgument = errors.New("invalid argument")
	ErrFailed          = errors.New("failed")
	// ErrNameTaken is returned by Run when another process owns the bus
	// name and did not allow replacement, or took it over.
	ErrNameTaken = errors.New("bus name is owned by another process")
)

// Portal error names (xdg-desktop-portal's error domain).
const (
	errorNotFound        = "org.freedesktop.portal.Error.NotFound"
	errorInvalidArgument = "org.freedesktop.portal.Error.InvalidArgument"
	errorFailed          = "org.freedesktop.portal.Error.Failed"
)

// dbusError converts an error into the D-Bus error sent to the caller: the
// one place where package errors meet portal error names.
func dbusError(err error) *dbus.Error {
	if err == nil {
		return nil
	}
	name := errorFailed
	switch {
	case errors.Is(err, ErrNotFound):
		name = errorNotFound
	case errors.Is(err, ErrInvalidArgument):
		name = errorInvalidArgument
	}
	return &dbus.Error{Name: name, Body: []any{messageOf(err)}}
}

// messageOf strips the sentinel's own text from the front of messages made
// with fmt.Errorf("%w: …"), so callers read upstream-like messages.
func messageOf(err error) string {
	s := err.Error()
	for _, e := range []error{ErrNotFound, ErrInvalidArgument, ErrFailed} {
		if p := e.Error() + ": "; len(s) > len(p) && s[:len(p)] == p {
			return s[len(p):]
		}
	}
	return s
}
