package portalerr

import (
	"errors"
	"fmt"
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/google/go-cmp/cmp"
)

func TestMap(t *testing.T) {
	errNotFound := errors.New("not found")
	errDenied := errors.New("access denied")
	names := []Name{{errNotFound, Prefix + "NotFound"}, {errDenied, AccessDenied}}
	backend := dbus.NewError(Prefix+"Cancelled", []any{"by the user"})
	for _, tc := range []struct {
		err  error
		want *dbus.Error
	}{
		{nil, nil},
		{fmt.Errorf("%w: No such document", errNotFound), dbus.NewError(Prefix+"NotFound", []any{"No such document"})},
		{fmt.Errorf("looking up: %w", errNotFound), dbus.NewError(Prefix+"NotFound", []any{"looking up: not found"})},
		{errDenied, dbus.NewError(AccessDenied, []any{"access denied"})},
		{fmt.Errorf("calling the backend: %w", backend), backend},
		{errors.New("disk full"), dbus.NewError(Failed, []any{"disk full"})},
	} {
		got := Map(tc.err, names)
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("Map(%v) (-want +got):\n%s", tc.err, diff)
		}
	}
}
