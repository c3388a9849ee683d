package launcher

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/porthole-dev/porthole/launcher/dbusproxy"
	"golang.org/x/sys/unix"
)

// BusProxy is a filtering D-Bus proxy run by the sandbox's pid 1: the
// sandbox connects to Dest, and each client gets its own connection to
// the host bus socket made from pid 1, so the bus and the portals identify
// the sandbox (its /proc/PID/root/.flatpak-info) and not the host.
type BusProxy struct {
	// Dest is the listening socket inside the sandbox.
	Dest string `json:"dest"`
	// Socket is the host path of the bus socket (unix:path=).
	Socket string           `json:"socket"`
	Policy dbusproxy.Policy `json:"policy"`
}

type busProxyState struct {
	bp    BusProxy
	dirfd int
}

// openBusDirs keeps each bus socket's directory open across pivot_root.
func openBusDirs(bps []BusProxy) ([]busProxyState, error) {
	var out []busProxyState
	for _, bp := range bps {
		fd, err := unix.Open(filepath.Dir(bp.Socket), unix.O_PATH|unix.O_CLOEXEC|unix.O_DIRECTORY, 0)
		if err != nil {
			return nil, fmt.Errorf("opening the bus directory of %s: %w", bp.Socket, err)
		}
		out = append(out, busProxyState{bp, fd})
	}
	return out, nil
}

// serveBusProxies listens on each Dest and serves until the process
// exits. It runs after pivot_root, connecting to the bus through the
// directory descriptors.
func serveBusProxies(states []busProxyState) error {
	for _, s := range states {
		if err := os.MkdirAll(filepath.Dir(s.bp.Dest), 0o755); err != nil {
			return err
		}
		l, err := dbusproxy.Listen(s.bp.Dest)
		if err != nil {
			return err
		}
		target := fmt.Sprintf("/proc/self/fd/%d/%s", s.dirfd, filepath.Base(s.bp.Socket))
		px, err := dbusproxy.New("unix:path="+s.bp.Socket, s.bp.Policy, &dbusproxy.Options{
			DialBus: func(ctx context.Context) (*net.UnixConn, error) {
				var d net.Dialer
				c, err := d.DialContext(ctx, "unix", target)
				if err != nil {
					return nil, err
				}
				return c.(*net.UnixConn), nil
			},
		})
		if err != nil {
			l.Close()
			return err
		}
		go px.Serve(context.Background(), l)
	}
	return nil
}
