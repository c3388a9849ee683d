package documentportal

import (
	"errors"

	"github.com/godbus/dbus/v5"
)

// Sentinel errors; DBusError maps them to D-Bus error names.
var (
	ErrFailed          = errors.New("failed")
	ErrInvalidArgument = errors.New("invalid argument")
	ErrNotFound        = errors.New("not found")
	ErrNotAllowed      = errors.New("not allowed")
	// ErrAccessDenied maps to org.freedesktop.DBus.Error.AccessDenied:
	// the caller could not be identified, or a transfer key is unknown.
	ErrAccessDenied = errors.New("access denied")
	// ErrNameTaken reports that another process owns the bus name.
	ErrNameTaken = errors.New("bus name already owned")
)

const errorPrefix = "org.freedesktop.portal.Error."

var errorNames = []struct {
	err  error
	name string
}{
	{ErrInvalidArgument, errorPrefix + "InvalidArgument"},
	{ErrNotFound, errorPrefix + "NotFound"},
	{ErrNotAllowed, errorPrefix + "NotAllowed"},
	{ErrAccessDenied, "org.freedesktop.DBus.Error.AccessDenied"},
	{ErrFailed, errorPrefix + "Failed"},
}

// DBusError converts err into the error sent to a D-Bus caller; nil stays
// nil. It is the only place Go errors become D-Bus errors.
func DBusError(err error) *dbus.Error {
	if err == nil {
		return nil
	}
	for _, e := range errorNames {
		if errors.Is(err, e.err) {
			return dbus.NewError(e.name, []any{err.Error()})
		}
	}
	return dbus.NewError(errorPrefix+"Failed", []any{err.Error()})
}
