package portals

import (
	"bufio"
	"mime"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// desktopDB answers "which applications handle this content type" from
// the desktop files and mimeapps lists under $XDG_DATA_HOME and
// $XDG_DATA_DIRS, and launches desktop files.
type desktopDB struct {
	getenv Env
}

func (d desktopDB) appDirs() []string {
	dataHome, dataDirs, _, _ := xdgDirs(d.getenv)
	dirs := []string{filepath.Join(dataHome, "applications")}
	for _, dd := range dataDirs {
		dirs = append(dirs, filepath.Join(dd, "applications"))
	}
	return dirs
}

func (d desktopDB) configDirs() []string {
	_, _, configHome, configDirs := xdgDirs(d.getenv)
	return append([]string{configHome}, configDirs...)
}

// desktopFile returns the parsed desktop file for id (without .desktop).
func (d desktopDB) desktopFile(id string) (*keyFile, bool) {
	for _, dir := range d.appDirs() {
		data, err := os.ReadFile(filepath.Join(dir, id+".desktop"))
		if err != nil {
			continue
		}
		kf, err := parseKeyFile(data)
		if err != nil || !kf.hasGroup("Desktop Entry") {
			return nil, false
		}
		if h, _ := kf.str("Desktop Entry", "Hidden"); h == "true" {
			return nil, false
		}
		return kf, true
	}
	return nil, false
}

func (d desktopDB) exists(id string) bool { _, ok := d.desktopFile(id); return ok }

// handlers returns the default app and all apps for contentType, ids
// without ".desktop", defaults first.
func (d desktopDB) handlers(contentType string) (def string, all []string) {
	seen := map[string]bool{}
	add := func(id string) {
		id = strings.TrimSuffix(id, ".desktop")
		if id != "" && !seen[id] && d.exists(id) {
			seen[id] = true
			all = append(all, id)
		}
	}
	lists := []string{}
	for _, c := range d.configDirs() {
		lists = append(lists, filepath.Join(c, "mimeapps.list"))
	}
	for _, a := range d.appDirs() {
		lists = append(lists, filepath.Join(a, "mimeapps.list"), filepath.Join(a, "defaults.list"))
	}
	for _, l := range lists {
		data, err := os.ReadFile(l)
		if err != nil {
			continue
		}
		kf, err := parseKeyFile(data)
		if err != nil {
			continue
		}
		for _, g := range []string{"Default Applications"} {
			if ids, ok := kf.list(g, contentType); ok {
				for _, id := range ids {
					id = strings.TrimSuffix(id, ".desktop")
					if def == "" && d.exists(id) {
						def = id
					}
					add(id)
				}
			}
		}
		if ids, ok := kf.list("Added Associations", contentType); ok {
			for _, id := range ids {
				add(id)
			}
		}
	}
	for _, dir := range d.appDirs() {
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range ents {
			id, ok := strings.CutSuffix(e.Name(), ".desktop")
			if !ok || seen[id] {
				continue
			}
			kf, ok := d.desktopFile(id)
			if !ok {
				continue
			}
			types, _ := kf.list("Desktop Entry", "MimeType")
			for _, t := range types {
				if t == contentType {
					add(id)
					break
				}
			}
		}
	}
	return def, all
}

// contentTypeOf guesses the content type of a file.
func contentTypeOf(path string) string {
	st, err := os.Stat(path)
	if err == nil && st.IsDir() {
		return "inode/directory"
	}
	if t := mime.TypeByExtension(filepath.Ext(path)); t != "" {
		t, _, _ = strings.Cut(t, ";")
		return t
	}
	f, err := os.Open(path)
	if err != nil {
		return "application/octet-stream"
	}
	defer f.Close()
	buf := make([]byte, 512)
	n, _ := f.Read(buf)
	if n == 0 {
		return "text/plain" // empty files are plain text, as shared-mime-info says
	}
	t, _, _ := strings.Cut(http.DetectContentType(buf[:n]), ";")
	return t
}

// launch starts the desktop file id with uri, substituting the field
// codes of its Exec line.
func (d desktopDB) launch(id, uri string, env []string) error {
	kf, ok := d.desktopFile(id)
	if !ok {
		return wrapf(ErrNotFound, "Desktop file %s.desktop does not exist", id)
	}
	execLine, _ := kf.str("Desktop Entry", "Exec")
	args := splitExec(execLine)
	var argv []string
	used := false
	for _, a := range args {
		switch a {
		case "%u", "%U":
			argv = append(argv, uri)
			used = true
			continue
		case "%f", "%F":
			p := uri
			if rest, ok := strings.CutPrefix(uri, "file://"); ok {
				p = rest
			}
			argv = append(argv, p)
			used = true
			continue
		case "%i", "%c", "%k":
			continue
		}
		argv = append(argv, strings.NewReplacer("%%", "%").Replace(a))
	}
	if !used {
		argv = append(argv, uri)
	}
	if len(argv) == 0 {
		return wrapf(ErrFailed, "desktop file %s has no Exec line", id)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	go cmd.Wait()
	return nil
}

// splitExec splits an Exec value into arguments (desktop entry quoting;
// like GLib, which upstream launches with, also shell single quotes and
// backslashes outside quotes).
func splitExec(s string) []string {
	var out []string
	var b strings.Builder
	inQuote, have := false, false
	sc := bufio.NewReader(strings.NewReader(s))
	for {
		r, _, err := sc.ReadRune()
		if err != nil {
			break
		}
		switch {
		case r == '"':
			inQuote = !inQuote
			have = true
		case r == '\\':
			if n, _, err := sc.ReadRune(); err == nil {
				b.WriteRune(n)
			}
			have = true
		case r == '\'' && !inQuote:
			for {
				n, _, err := sc.ReadRune()
				if err != nil || n == '\'' {
					break
				}
				b.WriteRune(n)
			}
			have = true
		case r == ' ' && !inQuote:
			if have || b.Len() > 0 {
				out = append(out, b.String())
				b.Reset()
				have = false
			}
		default:
			b.WriteRune(r)
		}
	}
	if have || b.Len() > 0 {
		out = append(out, b.String())
	}
	return out
}
