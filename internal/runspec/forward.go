package runspec

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// visKind is how a host path is mapped into the sandbox at the same
// path, as Flatpak's export table records it.
type visKind uint8

const (
	visHidden visKind = iota // a tmpfs over it
	visReadOnly
	visReadWrite
	visSymlink // a link recreated in the sandbox: only the path itself
)

// exported records a host path bound at the same path in the sandbox.
func (b *builder) exported(p string, k visKind) {
	if b.vis == nil {
		b.vis = map[string]visKind{}
	}
	p = filepath.Clean(p)
	if old, ok := b.vis[p]; ok && old > k && k != visHidden {
		return
	}
	b.vis[p] = k
}

func hasPathPrefix(p, prefix string) bool {
	return prefix == "/" || p == prefix || strings.HasPrefix(p, prefix+"/")
}

// mapped reports whether p is mapped by the closest recorded ancestor
// (or p itself), and read-only.
func (b *builder) mapped(keys []string, p string) (ok, ro bool) {
	for _, k := range keys { // sorted: parents first
		if !hasPathPrefix(p, k) {
			continue
		}
		switch m := b.vis[k]; m {
		case visSymlink:
			ok = p == k
		default:
			ok = m != visHidden
		}
		ro = ok && b.vis[k] == visReadOnly
	}
	return ok, ro
}

// visible reports whether the host path p is visible at the same path in
// the sandbox.
func (b *builder) visible(p string) bool { return b.pathMode(p) != visHidden }

// pathMode is how the host path p shows at the same path in the sandbox
// (Flatpak's flatpak_exports_path_get_mode): every mapped element that is
// a symlink is followed on the host, and the last element must be mapped
// (or missing under a writable mapping, for files the app is to create).
// visHidden means not visible.
func (b *builder) pathMode(p string) visKind {
	keys := make([]string, 0, len(b.vis))
	for k := range b.vis {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for range 40 {
		next, done, m := b.modeStep(keys, filepath.Clean(p))
		if done {
			return m
		}
		p = next
	}
	return visHidden
}

func (b *builder) modeStep(keys []string, p string) (next string, done bool, mode visKind) {
	if p == "/" {
		return "", true, visReadWrite // no element to check: Flatpak's answer too
	}
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	cur := ""
	ro := false
	for i, part := range parts {
		cur += "/" + part
		last := i == len(parts)-1
		var m bool
		m, ro = b.mapped(keys, cur)
		if !m {
			if last {
				return "", true, visHidden
			}
			continue
		}
		fi, err := os.Lstat(cur)
		if err != nil {
			if os.IsNotExist(err) && last && !ro {
				return "", true, visReadWrite
			}
			return "", true, visHidden
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			real, err := filepath.EvalSymlinks(cur)
			if err != nil {
				return "", true, visHidden
			}
			return filepath.Join(append([]string{real}, parts[i+1:]...)...), false, visHidden
		}
	}
	if ro {
		return "", true, visReadOnly
	}
	return "", true, visReadWrite
}

// forwardArgs applies --file-forwarding to args, as Flatpak 1.14 does:
// the @@ and @@u markers are dropped, and each path (or file: URI, or
// absolute path after @@u) between them that the sandbox cannot see is
// exported through the document portal and replaced by its path in the
// sandbox. Without a document portal the arguments pass unchanged.
func (b *builder) forwardArgs(ctx context.Context, docMount string, args []string) ([]string, error) {
	canForward := docMount != "" && b.in.Documents != nil
	if !canForward {
		b.notef("cannot get the document portal's mount point: files are passed unchanged")
	}
	var out []string
	forwarding, uri := false, false
	for _, a := range args {
		if a == "@@" || a == "@@u" {
			uri = a == "@@u"
			forwarding = !forwarding
			continue
		}
		if !canForward || !forwarding {
			out = append(out, a)
			continue
		}
		var p string
		switch {
		case uri && strings.HasPrefix(a, "file:"):
			var err error
			if p, err = fileURIPath(a); err != nil {
				return nil, err
			}
		case uri && !strings.HasPrefix(a, "/"):
			out = append(out, a)
			continue
		default:
			p = a
			if !filepath.IsAbs(p) {
				wd, err := os.Getwd()
				if err != nil {
					return nil, fmt.Errorf("cannot resolve %s: %w", a, err)
				}
				p = filepath.Join(wd, p)
			}
			p = filepath.Clean(p)
		}
		if b.visible(p) {
			out = append(out, a)
			continue
		}
		id, err := b.in.Documents.Forward(ctx, b.in.AppID, p)
		if err != nil {
			return nil, err
		}
		doc := filepath.Join(b.docPrefix(docMount), id, filepath.Base(p))
		if uri {
			doc = "file://" + escapeFilePath(doc)
		}
		out = append(out, doc)
	}
	return out, nil
}

// docPrefix is where the sandbox sees the portal's documents. Flatpak
// names them by the host mount point, which is the same path in the
// sandbox when that is $XDG_RUNTIME_DIR/doc and XDG_RUNTIME_DIR is
// /run/user/UID (the runtime-dir link doc → ../../flatpak/doc). Any
// other mount point is named through /run/flatpak/doc, which always
// holds the app's documents.
func (b *builder) docPrefix(docMount string) string {
	if filepath.Clean(docMount) == filepath.Join(b.host.RuntimeDir, "doc") {
		return filepath.Join("/run/user", strconv.Itoa(b.host.UID), "doc")
	}
	return "/run/flatpak/doc"
}

// fileURIPath returns the local path of a file: URI as GLib reads it
// (file:/P, file:///P or file://HOST/P, percent-decoded, no NUL or
// escaped slash).
func fileURIPath(uri string) (string, error) {
	rest := strings.TrimPrefix(uri, "file:")
	if strings.HasPrefix(rest, "//") {
		rest = rest[2:]
		i := strings.IndexByte(rest, '/')
		if i < 0 {
			return "", fmt.Errorf("invalid path %q", uri)
		}
		rest = rest[i:]
	}
	if !strings.HasPrefix(rest, "/") || strings.ContainsAny(rest, "?#\x00") {
		return "", fmt.Errorf("invalid path %q", uri)
	}
	var sb strings.Builder
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if c != '%' {
			sb.WriteByte(c)
			continue
		}
		if i+2 >= len(rest) {
			return "", fmt.Errorf("invalid path %q", uri)
		}
		v, err := strconv.ParseUint(rest[i+1:i+3], 16, 8)
		if err != nil || v == 0 || v == '/' {
			return "", fmt.Errorf("invalid path %q", uri)
		}
		sb.WriteByte(byte(v))
		i += 2
	}
	return filepath.Clean(sb.String()), nil
}

// escapeFilePath escapes a path for a file: URI the way GLib's
// g_filename_to_uri does.
func escapeFilePath(p string) string {
	const ok = "!$&'()*+,-./:=@_~"
	const hex = "0123456789ABCDEF"
	var sb strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(ok, c) >= 0 {
			sb.WriteByte(c)
			continue
		}
		sb.WriteByte('%')
		sb.WriteByte(hex[c>>4])
		sb.WriteByte(hex[c&15])
	}
	return sb.String()
}
