package runspec

import (
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// envList is an ordered environment with set/unset.
type envList struct {
	keys []string
	vals map[string]string
}

func baseEnv(env []string) envList {
	e := envList{vals: map[string]string{}}
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if ok {
			e.set(k, v)
		}
	}
	return e
}

func (e *envList) set(k, v string) {
	if _, ok := e.vals[k]; !ok {
		e.keys = append(e.keys, k)
	}
	e.vals[k] = v
}

func (e *envList) get(k string) (string, bool) { v, ok := e.vals[k]; return v, ok }

func (e *envList) unset(k string) {
	if _, ok := e.vals[k]; !ok {
		return
	}
	delete(e.vals, k)
	for i, x := range e.keys {
		if x == k {
			e.keys = append(e.keys[:i], e.keys[i+1:]...)
			return
		}
	}
}

func (e *envList) list() []string {
	keys := append([]string(nil), e.keys...)
	sort.Strings(keys)
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, k+"="+e.vals[k])
	}
	return out
}

// clearedEnv are removed from the caller's environment (§1.7).
var clearedEnv = []string{
	"LD_LIBRARY_PATH", "LD_PRELOAD", "LD_AUDIT", "TEMP", "TEMPDIR", "TMP", "TMPDIR",
	"PYTHONPATH", "PERLLIB", "PERL5LIB", "XCURSOR_PATH", "KRB5CCNAME", "XKB_CONFIG_ROOT",
	"GIO_EXTRA_MODULES", "GDK_BACKEND",
	"GST_PLUGIN_PATH", "GST_PLUGIN_PATH_1_0", "GST_PLUGIN_SYSTEM_PATH", "GST_PLUGIN_SYSTEM_PATH_1_0",
	"GST_REGISTRY", "GST_REGISTRY_1_0", "GST_PLUGIN_SCANNER", "GST_PLUGIN_SCANNER_1_0",
	"GST_PRESET_PATH", "GST_PRESET_PATH_1_0", "GST_PTP_HELPER", "GST_PTP_HELPER_1_0",
	"GST_INSTALL_PLUGINS_HELPER",
	"VK_ADD_DRIVER_FILES", "VK_ADD_LAYER_PATH", "VK_DRIVER_FILES", "VK_ICD_FILENAMES", "VK_LAYER_PATH",
	"__EGL_EXTERNAL_PLATFORM_CONFIG_DIRS", "__EGL_EXTERNAL_PLATFORM_CONFIG_FILENAMES",
	"__EGL_VENDOR_LIBRARY_DIRS", "__EGL_VENDOR_LIBRARY_FILENAMES",
	"P11_KIT_SERVER_ADDRESS",
}

// finalEnv applies defaults, then the context's [Environment], then the
// socket variables gathered in b.env (already applied in order).
func (b *builder) finalEnv(ldPath string) []string {
	e := &b.env
	for _, k := range clearedEnv {
		e.unset(k)
	}
	e.set("PATH", "/app/bin:/usr/bin")
	e.set("XDG_CONFIG_DIRS", "/app/etc/xdg:/etc/xdg")
	e.set("XDG_DATA_DIRS", "/app/share:/usr/share")
	e.set("SHELL", "/bin/sh")
	e.set("XDG_RUNTIME_DIR", "/run/user/"+strconv.Itoa(b.host.UID))
	e.set("container", "flatpak")
	e.set("FLATPAK_ID", b.in.AppID)
	e.set("FLATPAK_SANDBOX_DIR", filepath.Join(b.appDir, "sandbox"))
	if _, ok := e.get("PS1"); !ok {
		e.set("PS1", "[📦 $FLATPAK_ID \\W]\\$ ")
	}
	for _, x := range []struct{ k, dir, def string }{
		{"XDG_DATA_HOME", "data", ".local/share"}, {"XDG_CONFIG_HOME", "config", ".config"},
		{"XDG_CACHE_HOME", "cache", ".cache"}, {"XDG_STATE_HOME", ".local/state", ".local/state"},
	} {
		if b.in.Sandbox {
			break // no per-app directories under --sandbox
		}
		// The host's value, only when the caller has one.
		if host, ok := e.get(x.k); ok {
			e.set("HOST_"+x.k, host)
		}
		e.set(x.k, filepath.Join(b.appDir, x.dir))
	}
	e.set("LD_LIBRARY_PATH", ldPath)
	b.ctx.Env.Range(func(k string, v *string) {
		if v == nil {
			e.unset(k)
		} else {
			e.set(k, *v)
		}
	})
	for _, kv := range b.socketEnv {
		if kv[1] == "\x00" {
			e.unset(kv[0])
		} else {
			e.set(kv[0], kv[1])
		}
	}
	return e.list()
}
