package permissions

import (
	"errors"
	"fmt"
	"strings"
)

// ErrBadValue reports a value that is well-formed but not acceptable, such
// as a path containing "..". Metadata loading skips it like ErrUnknown.
var ErrBadValue = errors.New("bad permission value")

var specialFilesystems = []string{"home", "host", "host-etc", "host-os", filesystemHostReset}

// XDGUserDirs maps the xdg-* filesystem prefixes that name a user-dirs
// entry to their user-dirs.dirs key.
var XDGUserDirs = map[string]string{
	"xdg-desktop":      "XDG_DESKTOP_DIR",
	"xdg-documents":    "XDG_DOCUMENTS_DIR",
	"xdg-download":     "XDG_DOWNLOAD_DIR",
	"xdg-music":        "XDG_MUSIC_DIR",
	"xdg-pictures":     "XDG_PICTURES_DIR",
	"xdg-public-share": "XDG_PUBLICSHARE_DIR",
	"xdg-templates":    "XDG_TEMPLATES_DIR",
	"xdg-videos":       "XDG_VIDEOS_DIR",
}

// SplitXDG splits "xdg-foo/sub" into ("xdg-foo", "sub").
func SplitXDG(fs string) (prefix, sub string) {
	prefix, sub, _ = strings.Cut(fs, "/")
	return prefix, strings.TrimLeft(sub, "/")
}

func isXDGToken(fs string) bool {
	prefix, sub := SplitXDG(fs)
	if _, ok := XDGUserDirs[prefix]; ok {
		return true
	}
	switch prefix {
	case "xdg-data", "xdg-cache", "xdg-config":
		return true
	case "xdg-run":
		return sub != ""
	}
	return false
}

// ParseFilesystem parses a --filesystem (negated: --nofilesystem or a "!"
// metadata entry) value into its canonical token and mode.
func ParseFilesystem(value string, negated bool) (string, Mode, error) {
	if err := ValidatePathCharacters(value); err != nil {
		return "", 0, err
	}
	var s strings.Builder
	i := 0
	for i < len(value) && value[i] != ':' {
		if value[i] == '\\' {
			i++
			if i < len(value) {
				s.WriteByte(value[i])
				i++
			}
			continue
		}
		s.WriteByte(value[i])
		i++
	}
	fs := s.String()
	mode := ModeReadWrite
	if negated {
		mode = ModeNone
	}
	reset := false
	if fs == filesystemHostReset {
		reset = true
		if !negated {
			return "", 0, fmt.Errorf("%w: filesystem token %q is only applicable for --nofilesystem", ErrBadValue, fs)
		}
		if i < len(value) {
			return "", 0, fmt.Errorf("%w: filesystem token %q cannot be used with a suffix", ErrBadValue, fs)
		}
	}
	if i < len(value) { // value[i] == ':'
		switch suffix := value[i+1:]; suffix {
		case "ro":
			mode = ModeReadOnly
		case "rw":
			mode = ModeReadWrite
		case "create":
			mode = ModeCreate
		case "reset":
			reset = true
		default:
			// Flatpak warns and ignores an unknown suffix.
		}
		if negated {
			mode = ModeNone
		}
		if reset {
			if !negated {
				return "", 0, fmt.Errorf("%w: filesystem suffix \"reset\" only applies to --nofilesystem", ErrBadValue)
			}
			if fs != "host" {
				return "", 0, fmt.Errorf("%w: filesystem suffix \"reset\" can only be applied to --nofilesystem=host", ErrBadValue)
			}
			fs = filesystemHostReset
		}
	}

	if slash := strings.IndexByte(fs, '/'); slash >= 0 {
		rest := fs[slash+1:]
		if strings.HasPrefix(rest, "../") || strings.HasSuffix(rest, "/..") || strings.Contains(rest, "/../") {
			return "", 0, fmt.Errorf("%w: filesystem location %q contains \"..\"", ErrBadValue, fs)
		}
		fs = collapseSlashes(fs)
		if fs == "/" {
			return "", 0, fmt.Errorf("%w: --filesystem=/ is not available, use --filesystem=host for a similar result", ErrBadValue)
		}
	}

	switch {
	case contains(specialFilesystems, fs), isXDGToken(fs), strings.HasPrefix(fs, "~/"), strings.HasPrefix(fs, "/"):
		return fs, mode, nil
	case fs == "~":
		return "home", mode, nil
	case strings.HasPrefix(fs, "home/"):
		return "~/" + fs[len("home/"):], mode, nil
	}
	return "", 0, fmt.Errorf("%w: filesystem location %s, valid locations are: host, host-os, host-etc, home, xdg-*[/…], ~/dir, /dir", ErrUnknown, fs)
}

// collapseSlashes turns "//" and "/./" into "/" after the first slash and
// drops a trailing "/" or "/.", like Flatpak.
func collapseSlashes(fs string) string {
	first := strings.IndexByte(fs, '/')
	b := []byte(fs)
	for slash := first; slash >= 0 && slash < len(b); {
		for {
			if slash+1 < len(b) && b[slash+1] == '/' {
				b = append(b[:slash+1], b[slash+2:]...)
			} else if slash+2 < len(b) && b[slash+1] == '.' && b[slash+2] == '/' {
				b = append(b[:slash+1], b[slash+3:]...)
			} else {
				break
			}
		}
		next := strings.IndexByte(string(b[slash+1:]), '/')
		if next < 0 {
			break
		}
		slash += 1 + next
	}
	for {
		s := string(b)
		slash := strings.LastIndexByte(s, '/')
		if slash >= 0 && ((slash != 0 && slash == len(s)-1) || (slash == len(s)-2 && s[slash+1] == '.')) {
			b = b[:slash]
			continue
		}
		break
	}
	return string(b)
}

// UnparseFilesystem renders a token and mode as Flatpak writes it.
func UnparseFilesystem(fs string, m Mode) string {
	var s strings.Builder
	for i := 0; i < len(fs); i++ {
		switch fs[i] {
		case ':':
			s.WriteString(`\:`)
		case '\\':
			s.WriteString(`\\`)
		default:
			s.WriteByte(fs[i])
		}
	}
	out := s.String()
	switch m {
	case ModeReadOnly:
		out += ":ro"
	case ModeCreate:
		out += ":create"
	case ModeNone:
		out = "!" + out
		if strings.HasSuffix(out, "-reset") {
			out = strings.TrimSuffix(out, "-reset") + ":reset"
		}
	}
	return out
}

// Reserved lists the sandbox paths no filesystem grant may equal, be
// under, or be a parent of.
var Reserved = []string{"/.flatpak-info", "/app", "/dev", "/etc", "/proc", "/run/flatpak", "/run/host", "/usr", "/bin", "/lib", "/lib32", "/lib64", "/sbin"}

// ErrReserved reports a grant on a path Flatpak reserves.
var ErrReserved = errors.New("reserved by Flatpak")

// CheckReserved returns an error wrapping ErrReserved when the absolute
// path p collides with a reserved path.
func CheckReserved(p string) error {
	for _, r := range Reserved {
		if hasPathPrefix(p, r) || hasPathPrefix(r, p) {
			return fmt.Errorf("path %q is %w", r, ErrReserved)
		}
	}
	return nil
}

// hasPathPrefix reports whether path equals prefix or is below it,
// ignoring repeated slashes.
func hasPathPrefix(path, prefix string) bool {
	pe := splitPath(path)
	xe := splitPath(prefix)
	if len(xe) > len(pe) {
		return false
	}
	for i := range xe {
		if pe[i] != xe[i] {
			return false
		}
	}
	return true
}

func splitPath(p string) []string {
	var out []string
	for _, e := range strings.Split(p, "/") {
		if e != "" {
			out = append(out, e)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
