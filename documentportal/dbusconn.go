package documentportal

import (
	"github.com/godbus/dbus/v5"

	"github.com/porthole-dev/porthole/internal/busconn"
)

// fdClaims hands a handler the descriptors of its own call. The bus
// connection (internal/busconn) holds every received descriptor and gives
// godbus a token in place of each h value; a token names a descriptor of
// the message that carried it only, so a caller cannot name one of ours.
type fdClaims struct{ bus *busconn.Conn }

// take returns the descriptor of an h argument (the caller owns it from
// then on), or -1 when the message carried no such descriptor.
func (c *fdClaims) take(i dbus.UnixFDIndex) int {
	fd, _ := c.bus.TakeFD(i)
	return fd
}
