package documentportal

import (
	"errors"

	"github.com/godbus/dbus/v5"

	"github.com/porthole-dev/porthole/internal/portalerr"
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

// errorNames maps the sentinels to D-Bus error names.
var errorNames = []portalerr.Name{
	{Err: ErrInvalidArgument, Name: portalerr.Prefix + "InvalidArgument"},
	{Err: ErrNotFound, Name: portalerr.Prefix + "NotFound"},
	{Err: ErrNotAllowed, Name: portalerr.Prefix + "NotAllowed"},
	{Err: ErrAccessDenied, Name: portalerr.AccessDenied},
	{Err: ErrFailed, Name: portalerr.Failed},
}

// DBusError converts err into the error sent to a D-Bus caller (see
// portalerr.Map); nil stays nil. It is the only place Go errors become
// D-Bus errors.
func DBusError(err error) *dbus.Error { return portalerr.Map(err, errorNames) }
