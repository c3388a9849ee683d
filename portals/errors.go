package portals

import (
	"errors"

	"github.com/godbus/dbus/v5"

	"github.com/porthole-dev/porthole/internal/portalerr"
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

const errorPrefix = portalerr.Prefix

// errorNames maps the sentinels to D-Bus error names.
var errorNames = []portalerr.Name{
	{Err: ErrInvalidArgument, Name: errorPrefix + "InvalidArgument"},
	{Err: ErrNotFound, Name: errorPrefix + "NotFound"},
	{Err: ErrExists, Name: errorPrefix + "Exists"},
	{Err: ErrNotAllowed, Name: errorPrefix + "NotAllowed"},
	{Err: ErrCancelled, Name: errorPrefix + "Cancelled"},
	{Err: ErrWindowDestroyed, Name: errorPrefix + "WindowDestroyed"},
	{Err: ErrAccessDenied, Name: portalerr.AccessDenied},
	{Err: ErrFailed, Name: portalerr.Failed},
}

// DBusError converts err into the D-Bus error sent to a caller (see
// portalerr.Map): the only place where Go errors become D-Bus errors; nil
// stays nil. Errors already carrying a D-Bus name (from a backend) are
// passed through.
func DBusError(err error) *dbus.Error { return portalerr.Map(err, errorNames) }
