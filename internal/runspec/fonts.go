package runspec

import (
	"bytes"
	"path/filepath"

	"github.com/porthole-dev/porthole/launcher"
)

// fonts exposes the host's fonts, font caches and icons under /run/host
// and writes font-dirs.xml so fontconfig in the sandbox maps the cache
// entries of the host paths onto the /run/host ones (§5.3).
func (b *builder) fonts() {
	home := b.host.Home
	var remap bytes.Buffer
	type fontDir struct{ host, dest string }
	dirs := []fontDir{{"/usr/share/fonts", "/run/host/fonts"}, {"/usr/local/share/fonts", "/run/host/local-fonts"}}
	userFonts := filepath.Join(home, ".local/share/fonts")
	if !exists(userFonts) && exists(filepath.Join(home, ".fonts")) {
		userFonts = filepath.Join(home, ".fonts")
	}
	dirs = append(dirs, fontDir{userFonts, "/run/host/user-fonts"})
	for _, d := range dirs {
		if !exists(d.host) {
			continue
		}
		b.add(launcher.Mount{Type: launcher.ROBind, Source: d.host, Dest: d.dest})
		remap.WriteString("\t<remap-dir as-path=\"" + d.host + "\">" + d.dest + "</remap-dir>\n")
	}
	cache := ""
	for _, c := range []string{"/var/cache/fontconfig", "/usr/lib/fontconfig/cache"} {
		if exists(c) {
			cache = c
			break
		}
	}
	b.roOrEmpty(cache, "/run/host/fonts-cache")
	userCache := filepath.Join(home, ".cache/fontconfig")
	if !exists(userCache) {
		userCache = ""
	}
	b.roOrEmpty(userCache, "/run/host/user-fonts-cache")
	xml := "<?xml version=\"1.0\"?>\n<!DOCTYPE fontconfig SYSTEM \"urn:fontconfig:fonts.dtd\">\n<fontconfig>\n" + remap.String() + "</fontconfig>\n"
	b.add(launcher.Mount{Type: launcher.File, Dest: "/run/host/font-dirs.xml", Data: []byte(xml), ReadOnly: true})
	if exists("/usr/share/icons") {
		b.add(launcher.Mount{Type: launcher.ROBind, Source: "/usr/share/icons", Dest: "/run/host/share/icons"})
	}
	if ui := filepath.Join(home, ".local/share/icons"); exists(ui) {
		b.add(launcher.Mount{Type: launcher.ROBind, Source: ui, Dest: "/run/host/user-share/icons"})
	}
}

// roOrEmpty binds src read-only at dest, or puts an empty read-only tmpfs
// there so fontconfig never writes into it.
func (b *builder) roOrEmpty(src, dest string) {
	if src != "" {
		b.add(launcher.Mount{Type: launcher.ROBind, Source: src, Dest: dest})
		return
	}
	b.add(launcher.Mount{Type: launcher.Tmpfs, Dest: dest}, launcher.Mount{Type: launcher.RemountRO, Dest: dest})
}
