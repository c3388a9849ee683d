package portals

import (
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/porthole-dev/porthole/internal/busconn"
)

// fast answers the hottest calls on the bus reader goroutine
// (busconn.FastHandler): Settings.Read and ReadOne from the settings
// cache, and NetworkMonitor's getters for callers identified already
// while the status is fresh. Anything else, a miss or an error goes the
// ordinary way, which fills the caches. Nothing here waits for the bus.
func (s *Server) fast(c *busconn.FastCall) (busconn.FastReply, bool) {
	if c.Path != string(DesktopPath) {
		return busconn.FastReply{}, false
	}
	switch c.Interface {
	case portalIface + "Settings":
		if p := s.settings.Load(); p != nil {
			return p.fast(c)
		}
	case portalIface + "NetworkMonitor":
		if p := s.network.Load(); p != nil && s.fastNetworkAllowed(c.Sender) {
			return p.fast(c)
		}
	}
	return busconn.FastReply{}, false
}

// fastNetworkAllowed reports whether sender was identified already and
// may see the network status.
func (s *Server) fastNetworkAllowed(sender string) bool {
	s.mu.Lock()
	c := s.callers[sender]
	s.mu.Unlock()
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.info != nil && c.info.Network && !c.gone
}

// fast answers Read and ReadOne for a cached value that was found.
func (p *settingsPortal) fast(c *busconn.FastCall) (busconn.FastReply, bool) {
	if (c.Member != "Read" && c.Member != "ReadOne") || c.Signature != "ss" {
		return busconn.FastReply{}, false
	}
	args, ok := c.Strings()
	if !ok {
		return busconn.FastReply{}, false
	}
	k := settingKey{args[0], args[1]}
	p.mu.Lock()
	defer p.mu.Unlock()
	v, ok := p.cache[k]
	if !ok || !v.found {
		return busconn.FastReply{}, false
	}
	if v.enc == nil {
		one, err1 := busconn.EncodeBody(v.v)
		two, err2 := busconn.EncodeBody(dbus.MakeVariant(v.v))
		if err1 != nil || err2 != nil {
			return busconn.FastReply{}, false
		}
		v.enc = &[2]busconn.FastReply{one, two}
		p.cache[k] = v
	}
	if c.Member == "ReadOne" {
		return v.enc[0], true
	}
	return v.enc[1], true
}

// fast answers the getters from a fresh status.
func (p *networkMonitor) fast(c *busconn.FastCall) (busconn.FastReply, bool) {
	if c.Signature != "" {
		return busconn.FastReply{}, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.at.IsZero() || time.Since(p.at) >= statusTTL {
		return busconn.FastReply{}, false
	}
	if p.enc == nil || p.encFor != p.cached {
		st := p.cached
		var encs [4]busconn.FastReply
		var err [4]error
		encs[0], err[0] = busconn.EncodeBody(st.available)
		encs[1], err[1] = busconn.EncodeBody(st.metered)
		encs[2], err[2] = busconn.EncodeBody(st.connectivity)
		encs[3], err[3] = busconn.EncodeBody(statusMap(st))
		for _, e := range err {
			if e != nil {
				return busconn.FastReply{}, false
			}
		}
		p.enc, p.encFor = &encs, st
	}
	switch c.Member {
	case "GetAvailable":
		return p.enc[0], true
	case "GetMetered":
		return p.enc[1], true
	case "GetConnectivity":
		return p.enc[2], true
	case "GetStatus":
		return p.enc[3], true
	}
	return busconn.FastReply{}, false
}
