package portals

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// Backend is one portal implementation described by a *.portal file.
type Backend struct {
	Name       string // file basename without .portal
	DBusName   string
	Interfaces []string
	UseIn      []string
}

func (b *Backend) supports(iface string) bool { return slices.Contains(b.Interfaces, iface) }

// Backends selects implementations for impl interfaces the way
// xdg-desktop-portal 1.20 does: portals.conf first, then the legacy UseIn
// key, then xdg-desktop-portal-gtk as a last resort.
type Backends struct {
	all      []*Backend // sorted: UseIn match for the current desktop first, then name
	desktops []string   // lowercased XDG_CURRENT_DESKTOP entries
	conf     *portalsConf
}

type portalsConf struct {
	def    []string // nil if no default key
	hasDef bool
	ifaces map[string][]string
}

// Env is the environment lookup the discovery uses (os.Getenv in
// production, a map in tests).
type Env func(string) string

// LoadBackends reads the *.portal files and portals.conf from the standard
// locations. datadir and sysconfdir are the install's
// ($datadir/xdg-desktop-portal, $sysconfdir/xdg-desktop-portal).
func LoadBackends(getenv Env, datadir, sysconfdir string) *Backends {
	b := &Backends{desktops: currentDesktops(getenv("XDG_CURRENT_DESKTOP"))}
	found := map[string]*Backend{}
	if dir := getenv("XDG_DESKTOP_PORTAL_DIR"); dir != "" {
		loadPortalDir(found, dir)
		b.conf = loadConfDir(dir, b.desktops)
	} else {
		dataHome, dataDirs, configHome, configDirs := xdgDirs(getenv)
		loadPortalDir(found, filepath.Join(dataHome, "xdg-desktop-portal", "portals"))
		for _, d := range dataDirs {
			loadPortalDir(found, filepath.Join(d, "xdg-desktop-portal", "portals"))
		}
		loadPortalDir(found, filepath.Join(datadir, "xdg-desktop-portal", "portals"))

		var confDirs []string
		confDirs = append(confDirs, filepath.Join(configHome, "xdg-desktop-portal"))
		for _, d := range configDirs {
			confDirs = append(confDirs, filepath.Join(d, "xdg-desktop-portal"))
		}
		confDirs = append(confDirs, filepath.Join(sysconfdir, "xdg-desktop-portal"), filepath.Join(dataHome, "xdg-desktop-portal"))
		for _, d := range dataDirs {
			confDirs = append(confDirs, filepath.Join(d, "xdg-desktop-portal"))
		}
		confDirs = append(confDirs, filepath.Join(datadir, "xdg-desktop-portal"))
		for _, d := range confDirs {
			if b.conf = loadConfDir(d, b.desktops); b.conf != nil {
				break
			}
		}
	}
	for _, be := range found {
		b.all = append(b.all, be)
	}
	sort.Slice(b.all, func(i, j int) bool {
		pi, pj := b.all[i], b.all[j]
		for _, d := range b.desktops {
			ui, uj := containsFold(pi.UseIn, d), containsFold(pj.UseIn, d)
			if ui != uj {
				return ui
			}
		}
		return pi.Name < pj.Name
	})
	return b
}

func xdgDirs(getenv Env) (dataHome string, dataDirs []string, configHome string, configDirs []string) {
	home := getenv("HOME")
	dataHome = getenv("XDG_DATA_HOME")
	if dataHome == "" {
		dataHome = filepath.Join(home, ".local", "share")
	}
	configHome = getenv("XDG_CONFIG_HOME")
	if configHome == "" {
		configHome = filepath.Join(home, ".config")
	}
	dd := getenv("XDG_DATA_DIRS")
	if dd == "" {
		dd = "/usr/local/share/:/usr/share/"
	}
	cd := getenv("XDG_CONFIG_DIRS")
	if cd == "" {
		cd = "/etc/xdg"
	}
	for _, d := range strings.Split(dd, ":") {
		if d != "" {
			dataDirs = append(dataDirs, d)
		}
	}
	for _, d := range strings.Split(cd, ":") {
		if d != "" {
			configDirs = append(configDirs, d)
		}
	}
	return
}

func currentDesktops(v string) []string {
	var out []string
	for _, d := range strings.Split(v, ":") {
		if d == "" || strings.IndexFunc(d, func(r rune) bool {
			return !(r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
		}) >= 0 {
			continue
		}
		out = append(out, strings.ToLower(d))
	}
	return out
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// loadPortalDir adds the valid *.portal files of dir to found; names
// already found earlier win.
func loadPortalDir(found map[string]*Backend, dir string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".portal")
		if !ok || found[name] != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		if be := parsePortalFile(name, data); be != nil {
			found[name] = be
		}
	}
}

func parsePortalFile(name string, data []byte) *Backend {
	kf, err := parseKeyFile(data)
	if err != nil {
		return nil
	}
	be := &Backend{Name: name}
	var ok bool
	if be.DBusName, ok = kf.str("portal", "DBusName"); !ok || !validBusName(be.DBusName) {
		return nil
	}
	if be.Interfaces, ok = kf.list("portal", "Interfaces"); !ok {
		return nil
	}
	for _, i := range be.Interfaces {
		if !strings.HasPrefix(i, "org.freedesktop.impl.portal.") || !validBusName(i) {
			return nil
		}
	}
	be.UseIn, _ = kf.list("portal", "UseIn")
	return be
}

func validBusName(s string) bool {
	if len(s) == 0 || len(s) > 255 || s[0] == '.' {
		return false
	}
	elems := strings.Split(strings.TrimPrefix(s, ":"), ".")
	if len(elems) < 2 {
		return false
	}
	for _, e := range elems {
		if e == "" {
			return false
		}
		for _, c := range []byte(e) {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
				return false
			}
		}
	}
	return true
}

// loadConfDir reads the first of DESKTOP-portals.conf (for each current
// desktop, in order) and portals.conf in dir that has a [preferred] group
// with keys.
func loadConfDir(dir string, desktops []string) *portalsConf {
	for _, d := range desktops {
		if c := loadConf(filepath.Join(dir, d+"-portals.conf")); c != nil {
			return c
		}
	}
	return loadConf(filepath.Join(dir, "portals.conf"))
}

func loadConf(path string) *portalsConf {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	kf, err := parseKeyFile(data)
	if err != nil {
		return nil
	}
	keys := kf.keys("preferred")
	if len(keys) == 0 {
		return nil
	}
	c := &portalsConf{ifaces: map[string][]string{}}
	for _, k := range keys {
		v, _ := kf.list("preferred", k)
		if k == "default" {
			c.def, c.hasDef = v, true
		} else {
			c.ifaces[k] = v
		}
	}
	return c
}

func (b *Backends) byName(name string) *Backend {
	for _, be := range b.all {
		if be.Name == name {
			return be
		}
	}
	return nil
}

func (b *Backends) anySupporting(iface string) *Backend {
	for _, be := range b.all {
		if be.supports(iface) {
			return be
		}
	}
	return nil
}

func (b *Backends) prefersNone(iface string) bool {
	if b.conf == nil {
		return false
	}
	if list, ok := b.conf.ifaces[iface]; ok {
		return slices.Contains(list, "none")
	}
	return b.conf.hasDef && slices.Contains(b.conf.def, "none")
}

// Find returns the backend for the impl interface iface, or nil.
func (b *Backends) Find(iface string) *Backend {
	if b.prefersNone(iface) {
		return nil
	}
	if b.conf != nil {
		if list, ok := b.conf.ifaces[iface]; ok {
			for _, n := range list {
				if n == "*" {
					if be := b.anySupporting(iface); be != nil {
						return be
					}
					break
				}
				if be := b.byName(n); be != nil && be.supports(iface) {
					return be
				}
			}
		}
		for _, n := range b.conf.def {
			if n == "*" {
				if be := b.anySupporting(iface); be != nil {
					return be
				}
				break
			}
			if be := b.byName(n); be != nil && be.supports(iface) {
				return be
			}
		}
	}
	for _, d := range b.desktops {
		for _, be := range b.all {
			if be.supports(iface) && containsFold(be.UseIn, d) {
				return be
			}
		}
	}
	return b.gtkFallback(iface)
}

func (b *Backends) gtkFallback(iface string) *Backend {
	for _, be := range b.all {
		if be.DBusName == "org.freedesktop.impl.portal.desktop.gtk" && be.supports(iface) {
			return be
		}
	}
	return nil
}

// FindAll returns every backend to use for iface (Settings merges them), in
// order of preference.
func (b *Backends) FindAll(iface string) []*Backend {
	if b.prefersNone(iface) {
		return nil
	}
	var out []*Backend
	add := func(list []string) {
		for _, n := range list {
			for _, be := range b.all {
				if (n == "*" || be.Name == n) && be.supports(iface) && !slices.Contains(out, be) {
					out = append(out, be)
				}
			}
		}
	}
	if b.conf != nil {
		if list, ok := b.conf.ifaces[iface]; ok {
			add(list)
			if len(out) > 0 {
				return out
			}
		}
		add(b.conf.def)
		if len(out) > 0 {
			return out
		}
	}
	for _, d := range b.desktops {
		for _, be := range b.all {
			if be.supports(iface) && containsFold(be.UseIn, d) && !slices.Contains(out, be) {
				out = append(out, be)
			}
		}
	}
	if len(out) > 0 {
		return out
	}
	if be := b.gtkFallback(iface); be != nil {
		out = append(out, be)
	}
	return out
}
