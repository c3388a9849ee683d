package runspec

import (
	"bytes"
	"context"
	"encoding/binary"
	"github.com/porthole-dev/porthole/launcher/dbusproxy"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/porthole-dev/porthole/launcher"
	"github.com/porthole-dev/porthole/runtime/permissions"
)

func (b *builder) setEnv(k, v string) { b.socketEnv = append(b.socketEnv, [2]string{k, v}) }
func (b *builder) unsetEnv(k string)  { b.socketEnv = append(b.socketEnv, [2]string{k, "\x00"}) }

func (b *builder) sock(name string) bool { return b.ctx.Has(permissions.KeySockets, name) }

func isSocket(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().Type() == os.ModeSocket
}

// sockets exposes the granted sockets (§1.4) and sets or unsets their
// variables.
func (b *builder) sockets() {
	wayland := b.wayland()
	b.add(launcher.Mount{Type: launcher.Tmpfs, Dest: "/tmp/.X11-unix"})
	if b.sock("x11") && !(b.sock("fallback-x11") && wayland) {
		b.x11()
	} else {
		b.unsetEnv("DISPLAY")
	}
	b.simpleSocket("ssh-auth", "SSH_AUTH_SOCK", "/run/flatpak/ssh-auth", "")
	b.pulseaudio()
	if b.sock("pcsc") {
		src, _ := b.env.get("PCSCLITE_CSOCK_NAME")
		if src == "" {
			src = "/run/pcscd/pcscd.comm"
		}
		if isSocket(src) {
			b.add(launcher.Mount{Type: launcher.ROBind, Source: src, Dest: "/run/pcscd/pcscd.comm"})
			b.setEnv("PCSCLITE_CSOCK_NAME", "/run/pcscd/pcscd.comm")
		}
	}
	if b.sock("cups") {
		src, _ := b.env.get("CUPS_SERVER")
		if !strings.HasPrefix(src, "/") {
			src = "/var/run/cups/cups.sock"
		}
		if isSocket(src) {
			b.add(launcher.Mount{Type: launcher.ROBind, Source: src, Dest: "/var/run/cups/cups.sock"})
		}
	}
	if b.sock("gpg-agent") {
		src := filepath.Join(b.host.RuntimeDir, "gnupg", "S.gpg-agent")
		if isSocket(src) {
			b.add(launcher.Mount{Type: launcher.ROBind, Source: src, Dest: b.sboxRun + "/gnupg/S.gpg-agent"})
		}
	}
	b.sessionBus()
	b.systemBus()
}

func (b *builder) wayland() bool {
	if !b.sock("wayland") {
		b.unsetEnv("WAYLAND_DISPLAY")
		return false
	}
	name, _ := b.env.get("WAYLAND_DISPLAY")
	if name == "" {
		name = "wayland-0"
	}
	src := name
	if !filepath.IsAbs(src) {
		src = filepath.Join(b.host.RuntimeDir, name)
	}
	if !regexp.MustCompile(`^wayland-[0-9]+$`).MatchString(filepath.Base(name)) {
		name = "wayland-0"
	} else {
		name = filepath.Base(name)
	}
	if !isSocket(src) {
		b.unsetEnv("WAYLAND_DISPLAY")
		return false
	}
	b.add(launcher.Mount{Type: launcher.ROBind, Source: src, Dest: "/run/flatpak/" + name})
	if name != "wayland-0" {
		b.add(launcher.Mount{Type: launcher.Symlink, Source: "../../flatpak/" + name, Dest: b.sboxRun + "/" + name})
	}
	b.setEnv("WAYLAND_DISPLAY", name)
	return true
}

var displayRE = regexp.MustCompile(`^(unix)?:([0-9]+)(\.[0-9]+)?$`)

func (b *builder) x11() {
	display, _ := b.env.get("DISPLAY")
	m := displayRE.FindStringSubmatch(display)
	if m == nil {
		// Abstract or TCP displays need the network.
		if display != "" && b.ctx.Has(permissions.KeyShared, "network") {
			b.setEnv("DISPLAY", display)
		} else {
			b.unsetEnv("DISPLAY")
		}
		return
	}
	num := m[2]
	src := "/tmp/.X11-unix/X" + num
	if !isSocket(src) {
		b.unsetEnv("DISPLAY")
		return
	}
	b.add(launcher.Mount{Type: launcher.ROBind, Source: src, Dest: src})
	b.setEnv("DISPLAY", display)
	xauth, _ := b.env.get("XAUTHORITY")
	if xauth == "" {
		xauth = filepath.Join(b.host.Home, ".Xauthority")
	}
	if data, err := os.ReadFile(xauth); err == nil {
		hostname := b.host.Hostname
		if hostname == "" {
			hostname, _ = os.Hostname()
		}
		b.add(launcher.Mount{Type: launcher.File, Dest: "/run/flatpak/Xauthority", Data: filterXauth(data, num, hostname), ReadOnly: true})
		b.setEnv("XAUTHORITY", "/run/flatpak/Xauthority")
	} else {
		b.unsetEnv("XAUTHORITY")
	}
}

// Xauthority families.
const (
	familyLocal = 256
	familyWild  = 65535
)

// filterXauth keeps the entries for display number num that are local
// to this host (or wildcards), rewriting local addresses to hostname.
func filterXauth(data []byte, num, hostname string) []byte {
	var out bytes.Buffer
	r := bytes.NewReader(data)
	read16 := func() (uint16, bool) {
		var v uint16
		return v, binary.Read(r, binary.BigEndian, &v) == nil
	}
	readStr := func() ([]byte, bool) {
		n, ok := read16()
		if !ok || int(n) > r.Len() {
			return nil, false
		}
		s := make([]byte, n)
		r.Read(s)
		return s, true
	}
	for r.Len() > 0 {
		fam, ok := read16()
		if !ok {
			break
		}
		addr, ok1 := readStr()
		number, ok2 := readStr()
		name, ok3 := readStr()
		authData, ok4 := readStr()
		if !(ok1 && ok2 && ok3 && ok4) {
			break
		}
		if string(number) != num {
			continue
		}
		if fam == familyLocal {
			if string(addr) != hostname {
				continue
			}
		} else if fam != familyWild {
			continue
		}
		binary.Write(&out, binary.BigEndian, fam)
		for _, s := range [][]byte{addr, number, name, authData} {
			binary.Write(&out, binary.BigEndian, uint16(len(s)))
			out.Write(s)
		}
	}
	return out.Bytes()
}

func (b *builder) simpleSocket(perm, envKey, dest, def string) {
	if !b.sock(perm) {
		b.unsetEnv(envKey)
		return
	}
	src, _ := b.env.get(envKey)
	if src == "" {
		src = def
	}
	if src == "" || !isSocket(src) {
		b.unsetEnv(envKey)
		return
	}
	b.add(launcher.Mount{Type: launcher.ROBind, Source: src, Dest: dest})
	b.setEnv(envKey, dest)
}

func (b *builder) pulseaudio() {
	if !b.sock("pulseaudio") {
		b.unsetEnv("PULSE_SERVER")
		return
	}
	server, _ := b.env.get("PULSE_SERVER")
	if strings.HasPrefix(server, "tcp:") || (server != "" && !strings.HasPrefix(server, "unix:") && !strings.HasPrefix(server, "/")) {
		b.setEnv("PULSE_SERVER", server)
		return
	}
	src := strings.TrimPrefix(server, "unix:")
	if src == "" {
		src = filepath.Join(b.host.RuntimeDir, "pulse", "native")
		if !isSocket(src) {
			src = "/var/run/pulse/native"
		}
	}
	if !isSocket(src) {
		b.unsetEnv("PULSE_SERVER")
		return
	}
	b.add(
		launcher.Mount{Type: launcher.ROBind, Source: src, Dest: "/run/flatpak/pulse/native"},
		launcher.Mount{Type: launcher.File, Dest: "/run/flatpak/pulse/config", Data: []byte("enable-shm=no\n"), ReadOnly: true},
		launcher.Mount{Type: launcher.DevBind, Source: "/dev/snd", Dest: "/dev/snd", Optional: true},
	)
	b.setEnv("PULSE_SERVER", "unix:/run/flatpak/pulse/native")
	b.setEnv("PULSE_CLIENTCONFIG", "/run/flatpak/pulse/config")
}

// busPath extracts the socket path of a unix:path= D-Bus address.
func busPath(addr string) string {
	for _, a := range strings.Split(addr, ";") {
		rest, ok := strings.CutPrefix(a, "unix:")
		if !ok {
			continue
		}
		for _, kv := range strings.Split(rest, ",") {
			if p, ok := strings.CutPrefix(kv, "path="); ok {
				return p
			}
		}
	}
	return ""
}

func (b *builder) sessionBus() {
	addr, _ := b.env.get("DBUS_SESSION_BUS_ADDRESS")
	src := busPath(addr)
	if addr == "" {
		src = filepath.Join(b.host.RuntimeDir, "bus")
	}
	if b.sock("session-bus") && src != "" && isSocket(src) {
		b.add(launcher.Mount{Type: launcher.Bind, Source: src, Dest: "/run/flatpak/bus"})
		b.setEnv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/run/flatpak/bus")
		return
	}
	// Without the grant, the app gets the filtering proxy (only when the
	// caller has a session bus address, as Flatpak).
	if !b.sock("session-bus") && addr != "" && src != "" && isSocket(src) {
		entries := map[string]string{}
		b.ctx.SessionBus.Range(func(name string, p permissions.Policy) { entries[name] = p.String() })
		appID := b.in.AppID
		if b.in.Sandbox {
			appID += ".Sandboxed"
		}
		pol, err := dbusproxy.SessionBusPolicy(appID, entries)
		if err != nil {
			b.warnf("session bus not exposed: %v", err)
		} else {
			b.proxies = append(b.proxies, launcher.BusProxy{Dest: "/run/flatpak/bus", Socket: src, Policy: pol})
			b.setEnv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/run/flatpak/bus")
			return
		}
	}
	b.unsetEnv("DBUS_SESSION_BUS_ADDRESS")
}

func (b *builder) systemBus() {
	addr, _ := b.env.get("DBUS_SYSTEM_BUS_ADDRESS")
	src := busPath(addr)
	if src == "" {
		src = "/var/run/dbus/system_bus_socket"
	}
	if b.sock("system-bus") && isSocket(src) {
		b.add(launcher.Mount{Type: launcher.Bind, Source: src, Dest: "/run/dbus/system_bus_socket"})
		b.setEnv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/run/dbus/system_bus_socket")
		return
	}
	// The proxy only when [System Bus Policy] has entries, never with
	// --sandbox.
	if !b.sock("system-bus") && b.ctx.SystemBus.Len() > 0 && !b.in.Sandbox && isSocket(src) {
		entries := map[string]string{}
		b.ctx.SystemBus.Range(func(name string, p permissions.Policy) { entries[name] = p.String() })
		if pol, err := dbusproxy.SystemBusPolicy(entries); err != nil {
			b.warnf("system bus not exposed: %v", err)
		} else {
			b.proxies = append(b.proxies, launcher.BusProxy{Dest: "/run/dbus/system_bus_socket", Socket: src, Policy: pol})
			b.setEnv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/run/dbus/system_bus_socket")
			return
		}
	}
	b.unsetEnv("DBUS_SYSTEM_BUS_ADDRESS")
}

// a11yBus proxies the accessibility bus, as Flatpak does, at
// /run/flatpak/at-spi-bus with the a11y policy. Only a unix:path= bus
// can be reached from the sandbox's pid 1.
func (b *builder) a11yBus(ctx context.Context) {
	if b.in.A11y == nil {
		return
	}
	addr, err := b.in.A11y.A11yAddress(ctx)
	if err != nil {
		b.warnf("no accessibility bus: %v", err)
		return
	}
	src := busPath(addr)
	if src == "" || !isSocket(src) {
		b.warnf("accessibility bus %s not exposed: not a unix socket path", addr)
		return
	}
	b.proxies = append(b.proxies, launcher.BusProxy{Dest: "/run/flatpak/at-spi-bus", Socket: src, Policy: dbusproxy.A11yBusPolicy()})
	b.setEnv("AT_SPI_BUS_ADDRESS", "unix:path=/run/flatpak/at-spi-bus")
}
