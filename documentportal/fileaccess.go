package documentportal

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/porthole-dev/porthole/internal/keyfile"
)

// appHasFileAccess reports whether app can already reach path without a
// document, for the as-needed-by-app flag. Like upstream's fallback it
// only looks at the host and home filesystem permissions of the app's
// metadata and overrides (Flatpak's and Porthole's installations), so it
// never claims access the app does not have.
func appHasFileAccess(app string, perms Perm, path string) bool {
	if app == "" || !ValidAppID(app) {
		return false
	}
	for _, p := range []string{"/usr", "/app", "/tmp"} {
		if path == p || strings.HasPrefix(path, p+"/") {
			return false
		}
	}
	dataHome := os.Getenv("XDG_DATA_HOME")
	home, _ := os.UserHomeDir()
	if dataHome == "" || !filepath.IsAbs(dataHome) {
		dataHome = filepath.Join(home, ".local", "share")
	}
	// -1 unset, 0 none, 1 read-only, 2 read-write; later files win.
	host, homeAccess := 0, 0
	var files []string
	for _, inst := range []string{"/var/lib/flatpak", filepath.Join(dataHome, "flatpak"), "/var/lib/porthole", filepath.Join(dataHome, "porthole")} {
		files = append(files, filepath.Join(inst, "app", app, "current", "active", "metadata"))
	}
	for _, inst := range []string{"/var/lib/flatpak", filepath.Join(dataHome, "flatpak"), "/var/lib/porthole", filepath.Join(dataHome, "porthole")} {
		files = append(files, filepath.Join(inst, "overrides", "global"), filepath.Join(inst, "overrides", app))
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		kf, err := keyfile.Parse(data)
		if err != nil {
			continue
		}
		fss, _ := kf.StringList("Context", "filesystems")
		for _, fs := range fss {
			switch fs {
			case "!host":
				host = 0
			case "host:ro":
				host = 1
			case "host":
				host = 2
			case "!home":
				homeAccess = 0
			case "home:ro":
				homeAccess = 1
			case "home":
				homeAccess = 2
			}
		}
	}
	writing := perms.Has(PermWrite)
	if host == 2 || (host == 1 && !writing) {
		return true
	}
	if home == "" {
		return false
	}
	h, err1 := filepath.EvalSymlinks(home)
	p, err2 := filepath.EvalSymlinks(path)
	if err1 != nil {
		h = filepath.Clean(home)
	}
	if err2 != nil {
		p = filepath.Clean(path)
	}
	inHome := p == h || strings.HasPrefix(p, h+"/")
	return inHome && (homeAccess == 2 || (homeAccess == 1 && !writing))
}
