package portals

import (
	"fmt"

	"github.com/godbus/dbus/v5"
)

// wrapf returns an error that matches sentinel and reads msg.
func wrapf(sentinel error, format string, args ...any) error {
	return &msgError{sentinel: sentinel, msg: fmt.Sprintf(format, args...)}
}

type msgError struct {
	sentinel error
	msg      string
}

func (e *msgError) Error() string { return e.msg }
func (e *msgError) Unwrap() error { return e.sentinel }

// bodyArg returns argument i of a finished call's reply as T. godbus's
// Store would re-wrap variants holding structs, so replies we pass on are
// read from the body as decoded.
func bodyArg[T any](call *dbus.Call, i int) (T, bool) {
	var zero T
	if call.Err != nil || i >= len(call.Body) {
		return zero, false
	}
	v, ok := call.Body[i].(T)
	return v, ok
}
