package portals

import (
	"bufio"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/porthole-dev/porthole/internal/busconn"
)

// Connectivity levels of NetworkMonitor.GetConnectivity.
const (
	connLocal   uint32 = 1
	connLimited uint32 = 2
	connPortal  uint32 = 3
	connFull    uint32 = 4
)

// networkStatus is what NetworkMonitor reports.
type networkStatus struct {
	available    bool
	metered      bool
	connectivity uint32
}

// networkMonitor answers from NetworkManager on the system bus when it
// runs, otherwise from the kernel's routing tables.
type networkMonitor struct {
	s  *Server
	nm dbus.BusObject // nil without NetworkManager

	mu     sync.Mutex
	cached networkStatus
	at     time.Time
	enc    *[4]busconn.FastReply // replies for encFor (fast.go)
	encFor networkStatus
}

// statusTTL bounds how stale a reported status may be; reading the routing
// tables on every call would dominate the call's cost.
const statusTTL = time.Second

var errNoNetwork = wrapf(ErrNotAllowed, "This call is not available inside the sandbox")

func (p *networkMonitor) allowed(msg *dbus.Message) *dbus.Error {
	_, app, err := p.s.appInfo(msg)
	if err != nil {
		return DBusError(err)
	}
	if !app.Network {
		return DBusError(errNoNetwork)
	}
	return nil
}

func (p *networkMonitor) status() networkStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.at.IsZero() && time.Since(p.at) < statusTTL {
		return p.cached
	}
	st, ok := networkStatus{}, false
	if p.nm != nil {
		st, ok = p.nmStatus()
	}
	if !ok {
		st = kernelStatus()
	}
	p.cached, p.at = st, time.Now()
	return st
}

func (p *networkMonitor) nmStatus() (networkStatus, bool) {
	const iface = "org.freedesktop.NetworkManager"
	conn, err := p.nm.GetProperty(iface + ".Connectivity")
	if err != nil {
		return networkStatus{}, false
	}
	st := networkStatus{available: kernelStatus().available}
	switch c, _ := conn.Value().(uint32); c {
	case 1: // none
		st.connectivity = connLocal
	case 2:
		st.connectivity = connPortal
	case 3:
		st.connectivity = connLimited
	case 4:
		st.connectivity = connFull
	default:
		st.connectivity = connLocal
		if st.available {
			st.connectivity = connFull
		}
	}
	if m, err := p.nm.GetProperty(iface + ".Metered"); err == nil {
		v, _ := m.Value().(uint32)
		st.metered = v == 1 || v == 3 // yes, guess-yes
	}
	return st, true
}

// kernelStatus reports the network as available when there is a default
// route (IPv4 or IPv6) through an interface other than loopback.
func kernelStatus() networkStatus {
	avail := hasDefaultRoute4() || hasDefaultRoute6()
	st := networkStatus{available: avail, connectivity: connLocal}
	if avail {
		st.connectivity = connFull
	}
	return st
}

func hasDefaultRoute4() bool {
	f, err := os.Open("/proc/net/route")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		if len(fl) > 7 && fl[1] == "00000000" && fl[7] == "00000000" && fl[0] != "lo" {
			return true
		}
	}
	return false
}

func hasDefaultRoute6() bool {
	f, err := os.Open("/proc/net/ipv6_route")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		if len(fl) == 10 && fl[0] == strings.Repeat("0", 32) && fl[1] == "00" && fl[9] != "lo" {
			return true
		}
	}
	return false
}

// GetAvailable is NetworkMonitor.GetAvailable.
func (p *networkMonitor) GetAvailable(msg dbus.Message) (bool, *dbus.Error) {
	if err := p.allowed(&msg); err != nil {
		return false, err
	}
	return p.status().available, nil
}

// GetMetered is NetworkMonitor.GetMetered.
func (p *networkMonitor) GetMetered(msg dbus.Message) (bool, *dbus.Error) {
	if err := p.allowed(&msg); err != nil {
		return false, err
	}
	return p.status().metered, nil
}

// GetConnectivity is NetworkMonitor.GetConnectivity.
func (p *networkMonitor) GetConnectivity(msg dbus.Message) (uint32, *dbus.Error) {
	if err := p.allowed(&msg); err != nil {
		return 0, err
	}
	return p.status().connectivity, nil
}

// GetStatus is NetworkMonitor.GetStatus (version 3).
func (p *networkMonitor) GetStatus(msg dbus.Message) (map[string]dbus.Variant, *dbus.Error) {
	if err := p.allowed(&msg); err != nil {
		return nil, err
	}
	return statusMap(p.status()), nil
}

func statusMap(st networkStatus) map[string]dbus.Variant {
	return map[string]dbus.Variant{
		"available":    dbus.MakeVariant(st.available),
		"metered":      dbus.MakeVariant(st.metered),
		"connectivity": dbus.MakeVariant(st.connectivity),
	}
}

// CanReach is NetworkMonitor.CanReach: the name resolves and the network
// is available.
func (p *networkMonitor) CanReach(msg dbus.Message, host string, port uint32) (bool, *dbus.Error) {
	if err := p.allowed(&msg); err != nil {
		return false, err
	}
	c, _, _ := p.s.appInfo(&msg)
	addrs, err := net.DefaultResolver.LookupHost(c.ctx, host)
	if err != nil || len(addrs) == 0 {
		return false, DBusError(fmt.Errorf("%w: cannot resolve %s: %v", ErrFailed, host, err))
	}
	for _, a := range addrs {
		if ip := net.ParseIP(a); ip != nil && ip.IsLoopback() {
			return true, nil
		}
	}
	return p.status().available, nil
}

func (p *networkMonitor) watch() {
	if p.nm == nil {
		return
	}
	p.s.watchSignals(p.s.sys, "org.freedesktop.NetworkManager", "org.freedesktop.DBus.Properties", func(*dbus.Signal) {
		_ = p.s.conn.Emit(DesktopPath, portalIface+"NetworkMonitor.changed")
	})
}

// proxyResolver answers ProxyResolver.Lookup from the frontend's proxy
// environment (http_proxy, https_proxy, ftp_proxy, all_proxy, no_proxy).
type proxyResolver struct {
	s      *Server
	getenv Env
}

// Lookup is ProxyResolver.Lookup.
func (p *proxyResolver) Lookup(msg dbus.Message, uri string) ([]string, *dbus.Error) {
	_, app, err := p.s.appInfo(&msg)
	if err != nil {
		return nil, DBusError(err)
	}
	if !app.Network {
		return nil, DBusError(errNoNetwork)
	}
	return lookupProxy(p.getenv, uri), nil
}

func lookupProxy(getenv Env, uri string) []string {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme == "" {
		return []string{"direct://"}
	}
	env := func(k string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return getenv(strings.ToUpper(k))
	}
	host := u.Hostname()
	for _, np := range strings.Split(env("no_proxy"), ",") {
		np = strings.TrimSpace(np)
		if np == "*" || np != "" && (host == strings.TrimPrefix(np, ".") || strings.HasSuffix(host, "."+strings.TrimPrefix(np, "."))) {
			return []string{"direct://"}
		}
	}
	proxy := env(u.Scheme + "_proxy")
	if proxy == "" {
		proxy = env("all_proxy")
	}
	if proxy == "" {
		return []string{"direct://"}
	}
	if !strings.Contains(proxy, "://") {
		proxy = "http://" + proxy
	}
	return []string{proxy}
}
