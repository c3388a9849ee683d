package runspec

import (
	"bufio"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/porthole-dev/porthole/launcher"
	"github.com/porthole-dev/porthole/runtime/permissions"
)

// hostExcluded are the top-level directories `host` does not export.
var hostExcluded = map[string]bool{".": true, "..": true, "app": true, "bin": true, "boot": true,
	"dev": true, "efi": true, "etc": true, "lib": true, "lib32": true, "lib64": true, "proc": true,
	"root": true, "run": true, "sbin": true, "sys": true, "tmp": true, "usr": true, "var": true}

type exportSet struct {
	modes map[string]permissions.Mode // host path == sandbox path
}

func (e *exportSet) add(p string, m permissions.Mode) {
	p = filepath.Clean(p)
	if old, ok := e.modes[p]; !ok || m > old || m == permissions.ModeNone {
		if ok && m == permissions.ModeNone && old != permissions.ModeNone {
			// A later negation of an explicit grant on the same path:
			// the merged context already resolved the token, so this only
			// happens for different tokens naming one path; keep the grant.
			return
		}
		e.modes[p] = m
	}
}

// covered reports whether an exported (non-hidden) strict ancestor of p
// exists.
func (e *exportSet) covered(p string) bool {
	for d := filepath.Dir(p); ; d = filepath.Dir(d) {
		if m, ok := e.modes[d]; ok && m != permissions.ModeNone {
			return true
		}
		if d == "/" {
			return false
		}
	}
}

func (b *builder) userDirs() map[string]string {
	out := map[string]string{}
	cfg, ok := b.env.get("XDG_CONFIG_HOME")
	if !ok || cfg == "" {
		cfg = filepath.Join(b.host.Home, ".config")
	}
	f, err := os.Open(filepath.Join(cfg, "user-dirs.dirs"))
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		v = strings.Trim(v, `"`)
		if rest, ok := strings.CutPrefix(v, "$HOME"); ok {
			v = b.host.Home + rest
		}
		if filepath.IsAbs(v) {
			out[k] = filepath.Clean(v)
		}
	}
	return out
}

// xdgDir resolves an xdg-* token to a host path; ok is false when the
// token does not apply (unset dir, or the dir is $HOME).
func (b *builder) xdgDir(token string, ud map[string]string) (string, bool) {
	prefix, sub := permissions.SplitXDG(token)
	var dir string
	if key, ok := permissions.XDGUserDirs[prefix]; ok {
		dir = ud[key]
		if dir == "" || dir == b.host.Home {
			return "", false
		}
	} else {
		envKey, def := "", ""
		switch prefix {
		case "xdg-data":
			envKey, def = "XDG_DATA_HOME", ".local/share"
		case "xdg-cache":
			envKey, def = "XDG_CACHE_HOME", ".cache"
		case "xdg-config":
			envKey, def = "XDG_CONFIG_HOME", ".config"
		case "xdg-run":
			return filepath.Join(b.host.RuntimeDir, sub), true
		default:
			return "", false
		}
		dir, _ = b.env.get(envKey)
		if dir == "" {
			dir = filepath.Join(b.host.Home, def)
		}
	}
	return filepath.Join(dir, sub), true
}

func (b *builder) filesystems() {
	ex := &exportSet{modes: map[string]permissions.Mode{}}
	ud := b.userDirs()
	home := b.host.Home
	var hostOS, hostEtc permissions.Mode // the mode of the grant, NONE if absent
	var xdgRunSubs []struct {
		host string
		m    permissions.Mode
	}
	var appDirSubs []struct {
		host, where string
		m           permissions.Mode
	}
	b.ctx.Filesystems.Range(func(tok string, m permissions.Mode) {
		switch {
		case tok == "host-reset":
		case tok == "host":
			if m == permissions.ModeNone {
				return
			}
			if ents, err := os.ReadDir("/"); err == nil {
				for _, e := range ents {
					if !hostExcluded[e.Name()] {
						ex.add("/"+e.Name(), m)
					}
				}
			}
			ex.add("/run/media", m)
			// Only through /home: $HOME elsewhere is not exported.
			hostOS, hostEtc = max(hostOS, m), max(hostEtc, m)
		case tok == "host-os":
			hostOS = max(hostOS, m)
		case tok == "host-etc":
			hostEtc = max(hostEtc, m)
		case tok == "home":
			ex.add(home, m)
		case strings.HasPrefix(tok, "~/"):
			ex.add(filepath.Join(home, tok[2:]), m)
		case strings.HasPrefix(tok, "/"):
			ex.add(tok, m)
		case strings.HasPrefix(tok, "xdg-"):
			p, ok := b.xdgDir(tok, ud)
			if !ok {
				b.warnf("not sharing %q: the directory is not set or is the home directory", tok)
				return
			}
			prefix, sub := permissions.SplitXDG(tok)
			if prefix == "xdg-run" {
				xdgRunSubs = append(xdgRunSubs, struct {
					host string
					m    permissions.Mode
				}{p, m})
				return
			}
			ex.add(p, m)
			if where := strings.TrimPrefix(prefix, "xdg-"); sub != "" && (where == "config" || where == "cache" || where == "data") {
				appDirSubs = append(appDirSubs, struct {
					host, where string
					m           permissions.Mode
				}{p, where + "/" + sub, m})
			}
		}
	})

	// :create makes the directory on the host.
	for p, m := range ex.modes {
		if m == permissions.ModeCreate && !b.dry {
			if err := os.MkdirAll(p, 0o755); err != nil {
				b.warnf("cannot create %s: %v", p, err)
			}
		}
	}
	hm, ok := ex.modes[home]
	homeShared := (ok && hm != permissions.ModeNone) || ex.covered(home)

	b.add(launcher.Mount{Type: launcher.Dir, Dest: home})
	paths := make([]string, 0, len(ex.modes))
	for p := range ex.modes {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		m := ex.modes[p]
		if err := permissions.CheckReserved(p); err != nil {
			b.warnf("not sharing %q with the sandbox: %v", p, err)
			continue
		}
		if m == permissions.ModeNone {
			if ex.covered(p) {
				if fi, err := os.Stat(p); err == nil && fi.IsDir() {
					b.add(launcher.Mount{Type: launcher.Tmpfs, Dest: p})
					b.exported(p, visHidden)
				}
			}
			continue
		}
		b.exportPath(ex, p, m)
	}
	// ~/.var/app: only this app's directory; ~/.local/share/flatpak hidden.
	if homeShared {
		if exists(filepath.Join(home, ".var", "app")) {
			b.add(launcher.Mount{Type: launcher.Tmpfs, Dest: filepath.Join(home, ".var", "app")})
			b.exported(filepath.Join(home, ".var", "app"), visHidden)
		}
		if exists(filepath.Join(home, ".local", "share", "flatpak")) {
			b.add(launcher.Mount{Type: launcher.Tmpfs, Dest: filepath.Join(home, ".local", "share", "flatpak")})
			b.exported(filepath.Join(home, ".local", "share", "flatpak"), visHidden)
		}
	}
	if !b.in.Sandbox {
		b.add(launcher.Mount{Type: launcher.Bind, Source: b.appDir, Dest: b.appDir})
		b.exported(b.appDir, visReadWrite)
	}
	for _, s := range appDirSubs {
		if exists(s.host) {
			b.add(launcher.Mount{Type: bindType(s.m), Source: s.host, Dest: filepath.Join(b.appDir, s.where)})
		}
	}
	if !homeShared && !b.dry {
		b.ctx.Persistent.Range(func(p string, _ struct{}) {
			p = strings.TrimLeft(p, "/")
			if p == "" || strings.Contains("/"+p+"/", "/../") {
				return
			}
			src := filepath.Join(b.appDir, p)
			if err := os.MkdirAll(src, 0o755); err != nil {
				b.warnf("cannot persist %s: %v", p, err)
				return
			}
			b.add(launcher.Mount{Type: launcher.Bind, Source: src, Dest: filepath.Join(home, p)})
		})
	}
	for _, s := range xdgRunSubs {
		if s.m == permissions.ModeNone || !exists(s.host) {
			continue
		}
		rel, _ := filepath.Rel(b.host.RuntimeDir, s.host)
		b.add(launcher.Mount{Type: bindType(s.m), Source: s.host, Dest: filepath.Join(b.sboxRun, rel)})
	}
	// The app's own runtime dir (not under --sandbox, which has no
	// per-app directories).
	appRun := filepath.Join(b.host.RuntimeDir, "app", b.in.AppID)
	if b.in.Sandbox || b.dry {
	} else if os.MkdirAll(appRun, 0o700) == nil {
		b.add(launcher.Mount{Type: launcher.Bind, Source: appRun, Dest: "/run/flatpak/app/" + b.in.AppID})
	}
	// Flatpak binds host-os and host-etc with the grant's mode (read-write
	// unless ":ro"); the files stay protected by their ownership.
	if hostOS != permissions.ModeNone {
		for _, d := range []string{"usr", "bin", "lib", "lib32", "lib64", "sbin"} {
			src := "/" + d
			fi, err := os.Lstat(src)
			if err != nil {
				continue
			}
			if fi.Mode()&fs.ModeSymlink != 0 {
				if t, err := os.Readlink(src); err == nil {
					b.add(launcher.Mount{Type: launcher.Symlink, Source: t, Dest: "/run/host/" + d})
				}
				continue
			}
			b.add(launcher.Mount{Type: bindType(hostOS), Source: src, Dest: "/run/host/" + d})
		}
		if hostEtc == permissions.ModeNone {
			b.add(launcher.Mount{Type: bindType(hostOS), Source: "/etc/ld.so.cache", Dest: "/run/host/etc/ld.so.cache", Optional: true})
			b.add(launcher.Mount{Type: bindType(hostOS), Source: "/etc/alternatives", Dest: "/run/host/etc/alternatives", Optional: true})
		}
	}
	if hostEtc != permissions.ModeNone {
		b.add(launcher.Mount{Type: bindType(hostEtc), Source: "/etc", Dest: "/run/host/etc"})
	}
	if exists("/etc/os-release") {
		b.add(launcher.Mount{Type: launcher.ROBind, Source: "/etc/os-release", Dest: "/run/host/os-release"})
	} else {
		b.add(launcher.Mount{Type: launcher.ROBind, Source: "/usr/lib/os-release", Dest: "/run/host/os-release", Optional: true})
	}
}

func visOf(m permissions.Mode) visKind {
	if m == permissions.ModeReadOnly {
		return visReadOnly
	}
	return visReadWrite
}

func bindType(m permissions.Mode) launcher.MountType {
	if m == permissions.ModeReadOnly {
		return launcher.ROBind
	}
	return launcher.Bind
}

// exportPath binds host path p at the same place, resolving symlinks on
// the host: the target is exported and the link recreated.
func (b *builder) exportPath(ex *exportSet, p string, m permissions.Mode) {
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		if !os.IsNotExist(err) {
			b.warnf("not sharing %q: %v", p, err)
		}
		return
	}
	fi, err := os.Stat(real)
	if err != nil {
		return
	}
	switch t := fi.Mode().Type(); {
	case t == 0, t == fs.ModeDir, t == fs.ModeSocket:
	default:
		b.warnf("not sharing %q: unsupported file type", p)
		return
	}
	if real != p {
		if err := permissions.CheckReserved(real); err != nil {
			b.warnf("not sharing %q with the sandbox: %v", real, err)
			return
		}
		b.add(launcher.Mount{Type: bindType(m), Source: real, Dest: real})
		b.exported(real, visOf(m))
		if p != "/tmp" && p != "/var/tmp" && !ex.covered(p) {
			b.add(launcher.Mount{Type: launcher.Symlink, Source: real, Dest: p})
			b.exported(p, visSymlink)
		}
		return
	}
	b.add(launcher.Mount{Type: bindType(m), Source: p, Dest: p})
	b.exported(p, visOf(m))
}

// FileAccess answers `flatpak info --file-access=PATH` for appID with
// the context c: how the host path shows in the sandbox, "hidden",
// "read-only" or "read-write". It creates nothing.
func FileAccess(c *permissions.Context, host Host, appID, path string) string {
	b := &builder{in: Input{AppID: appID, Context: c}, host: host, ctx: c, env: baseEnv(host.Env), dry: true}
	b.appDir = filepath.Join(host.Home, ".var", "app", appID)
	b.sboxRun = "/run/user/" + strconv.Itoa(host.UID)
	b.filesystems()
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	switch b.pathMode(path) {
	case visReadOnly:
		return "read-only"
	case visReadWrite, visSymlink:
		return "read-write"
	}
	return "hidden"
}
