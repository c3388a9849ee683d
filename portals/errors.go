package portals

import (
	"errors"
	"strings"

	"github.com/godbus/dbus/v5"
)

// Sentinel errors; DBusError maps them to org.freedesktop.portal.Error.*.
var (
	ErrFailed          = errors.New("failed")
	ErrInvalidArgument = errors.New("invalid argument")
	ErrNotFound        = errors.New("not found")
	ErrExists          = errors.New("exists")
	ErrNotAllowed      = errors.New("not allowed")
	ErrCancelled       = errors.New("cancelled")
	ErrWindowDestroyed = errors.New("window destroyed")
	// ErrAccessDenied means the caller could not be identified or may not
	// touch an object; it maps to org.freedesktop.DBus.Error.AccessDenied.
	ErrAccessDenied = errors.New("access denied")
)

const errorPrefix = "org.freedesktop.portal.Error."

var errorNames = []struct {
	err  error
	name string
}{
	{ErrInvalidArgument, errorPrefix + "InvalidArgument"},
	{ErrNotFound, errorPrefix + "NotFound"},
	{ErrExists, errorPrefix + "Exists"},
	{ErrNotAllowed, errorPrefix + "NotAllowed"},
	{ErrCancelled, errorPrefix + "Cancelled"},
	{ErrWindowDestroyed, errorPrefix + "WindowDestroyed"},
	{ErrAccessDenied, "org.freedesktop.DBus.Error.AccessDenied"},
	{ErrFailed, errorPrefix + "Failed"},
}

// DBusError converts err into the D-Bus error sent to a caller. It is the
// only place where Go errors become D-Bus errors; nil stays nil. Errors
// already carrying a D-Bus name (from a backend) are passed through.
func DBusError(err error) *dbus.Error {
	if err == nil {
		return nil
	}
	for _, e := range errorNames {
		if errors.Is(err, e.err) {
			// The sentinel names the D-Bus error; the message is the rest.
			msg := strings.TrimPrefix(err.Error(), e.err.Error()+": ")
			return dbus.NewError(e.name, []any{msg})
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
	return dbus.NewError(errorPrefix+"Failed", []any{err.Error()})
}
