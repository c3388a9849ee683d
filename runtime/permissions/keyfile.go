package permissions

import (
	"fmt"
	"strings"

	"github.com/porthole-dev/porthole/internal/keyfile"
)

// KeyFile is the subset of GKeyFile that Flatpak's override and metadata
// handling relies on: ordered groups and keys, GKeyFile escapes and list
// syntax, and GKeyFile's output layout. Comments and blank lines are not
// kept, as Flatpak loads override files without G_KEY_FILE_KEEP_COMMENTS.
type KeyFile struct {
	groups []*kfGroup
}

type kfGroup struct {
	name string
	keys []string
	vals map[string]string // raw (escaped) values
}

// ParseKeyFile parses key-file text.
func ParseKeyFile(data []byte) (*KeyFile, error) {
	kf := &KeyFile{}
	var cur *kfGroup
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSuffix(line, "\r")
		trimmed := strings.TrimLeft(line, " \t")
		if trimmed == "" || trimmed[0] == '#' {
			continue
		}
		if trimmed[0] == '[' {
			end := strings.IndexByte(trimmed, ']')
			if end < 0 || strings.TrimRight(trimmed[end+1:], " \t") != "" {
				return nil, fmt.Errorf("%w: line %d: invalid group %q", ErrInvalid, n+1, line)
			}
			name := trimmed[1:end]
			if name == "" || strings.ContainsAny(name, "[]") {
				return nil, fmt.Errorf("%w: line %d: invalid group name %q", ErrInvalid, n+1, name)
			}
			cur = kf.group(name, true)
			continue
		}
		k, v, ok := strings.Cut(trimmed, "=")
		if !ok {
			return nil, fmt.Errorf("%w: line %d: not a key=value line", ErrInvalid, n+1)
		}
		k = strings.TrimRight(k, " \t")
		if k == "" {
			return nil, fmt.Errorf("%w: line %d: empty key", ErrInvalid, n+1)
		}
		if cur == nil {
			return nil, fmt.Errorf("%w: line %d: key outside a group", ErrInvalid, n+1)
		}
		cur.setRaw(k, strings.TrimLeft(v, " \t\v\f\r"))
	}
	return kf, nil
}

func (kf *KeyFile) group(name string, create bool) *kfGroup {
	for _, g := range kf.groups {
		if g.name == name {
			return g
		}
	}
	if !create {
		return nil
	}
	g := &kfGroup{name: name, vals: map[string]string{}}
	kf.groups = append(kf.groups, g)
	return g
}

func (g *kfGroup) setRaw(k, v string) {
	if _, ok := g.vals[k]; !ok {
		g.keys = append(g.keys, k)
	}
	g.vals[k] = v
}

// Groups returns the group names in file order.
func (kf *KeyFile) Groups() []string {
	out := make([]string, len(kf.groups))
	for i, g := range kf.groups {
		out[i] = g.name
	}
	return out
}

// HasGroup reports whether the group exists.
func (kf *KeyFile) HasGroup(group string) bool { return kf.group(group, false) != nil }

// Keys returns the keys of group in file order.
func (kf *KeyFile) Keys(group string) []string {
	if g := kf.group(group, false); g != nil {
		return append([]string(nil), g.keys...)
	}
	return nil
}

// Has reports whether group has key.
func (kf *KeyFile) Has(group, key string) bool {
	g := kf.group(group, false)
	if g == nil {
		return false
	}
	_, ok := g.vals[key]
	return ok
}

// String returns the unescaped value of group/key.
func (kf *KeyFile) String(group, key string) (string, bool) {
	g := kf.group(group, false)
	if g == nil {
		return "", false
	}
	raw, ok := g.vals[key]
	if !ok {
		return "", false
	}
	s, _ := keyfile.Unescape(raw)
	return s, true
}

// StringList returns the ';'-separated list value of group/key.
func (kf *KeyFile) StringList(group, key string) ([]string, bool) {
	g := kf.group(group, false)
	if g == nil {
		return nil, false
	}
	raw, ok := g.vals[key]
	if !ok {
		return nil, false
	}
	l, _ := keyfile.UnescapeList(raw)
	return l, true
}

// SetString sets group/key, escaping like g_key_file_set_string.
func (kf *KeyFile) SetString(group, key, value string) {
	kf.group(group, true).setRaw(key, keyfile.Escape(value, false))
}

// SetStringList sets a list value like g_key_file_set_string_list.
func (kf *KeyFile) SetStringList(group, key string, list []string) {
	var b strings.Builder
	for _, s := range list {
		b.WriteString(keyfile.Escape(s, true))
		b.WriteByte(';')
	}
	kf.group(group, true).setRaw(key, b.String())
}

// RemoveKey removes group/key.
func (kf *KeyFile) RemoveKey(group, key string) {
	g := kf.group(group, false)
	if g == nil {
		return
	}
	if _, ok := g.vals[key]; !ok {
		return
	}
	delete(g.vals, key)
	for i, k := range g.keys {
		if k == key {
			g.keys = append(g.keys[:i], g.keys[i+1:]...)
			break
		}
	}
}

// RemoveGroup removes a group and its keys.
func (kf *KeyFile) RemoveGroup(group string) {
	for i, g := range kf.groups {
		if g.name == group {
			kf.groups = append(kf.groups[:i], kf.groups[i+1:]...)
			return
		}
	}
}

// Bytes renders the file as g_key_file_to_data does.
func (kf *KeyFile) Bytes() []byte {
	var b strings.Builder
	for _, g := range kf.groups {
		s := b.String()
		if len(s) >= 2 && s[len(s)-2] != '\n' {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "[%s]\n", g.name)
		for _, k := range g.keys {
			fmt.Fprintf(&b, "%s=%s\n", k, g.vals[k])
		}
	}
	return []byte(b.String())
}
