package portals

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
)

// keyFile is the small subset of the GKeyFile format the frontend reads:
// *.portal files, portals.conf and .flatpak-info. Localized keys are
// dropped. It stays local until internal/keyfile is shared.
type keyFile struct {
	groups map[string]map[string]string
	order  map[string][]string // keys per group in file order
}

func parseKeyFile(data []byte) (*keyFile, error) {
	kf := &keyFile{groups: map[string]map[string]string{}, order: map[string][]string{}}
	var group string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimLeft(sc.Text(), " \t")
		switch {
		case line == "" || line[0] == '#':
			continue
		case line[0] == '[':
			end := strings.IndexByte(line, ']')
			if end < 0 || strings.TrimSpace(line[end+1:]) != "" {
				return nil, fmt.Errorf("line %d: malformed group header", n)
			}
			group = line[1:end]
			if group == "" || strings.ContainsAny(group, "[]") {
				return nil, fmt.Errorf("line %d: invalid group name", n)
			}
			if _, ok := kf.groups[group]; !ok {
				kf.groups[group] = map[string]string{}
			}
		default:
			eq := strings.IndexByte(line, '=')
			if eq <= 0 {
				return nil, fmt.Errorf("line %d: not a key=value line", n)
			}
			if group == "" {
				return nil, fmt.Errorf("line %d: key outside a group", n)
			}
			key := strings.TrimRight(line[:eq], " \t")
			if key == "" {
				return nil, fmt.Errorf("line %d: empty key", n)
			}
			if strings.ContainsRune(key, '[') {
				continue // localized value
			}
			if _, seen := kf.groups[group][key]; !seen {
				kf.order[group] = append(kf.order[group], key)
			}
			kf.groups[group][key] = strings.TrimLeft(line[eq+1:], " \t")
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return kf, nil
}

func (kf *keyFile) hasGroup(g string) bool { _, ok := kf.groups[g]; return ok }

func (kf *keyFile) raw(group, key string) (string, bool) {
	v, ok := kf.groups[group][key]
	return v, ok
}

// str returns the unescaped string value of group/key.
func (kf *keyFile) str(group, key string) (string, bool) {
	v, ok := kf.raw(group, key)
	if !ok {
		return "", false
	}
	return unescapeKeyValue(v, false)[0], true
}

// list returns a ';'-separated list value; a trailing ';' is optional.
func (kf *keyFile) list(group, key string) ([]string, bool) {
	v, ok := kf.raw(group, key)
	if !ok {
		return nil, false
	}
	return unescapeKeyValue(v, true), true
}

func (kf *keyFile) keys(group string) []string { return kf.order[group] }

func unescapeKeyValue(v string, split bool) []string {
	var out []string
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '\\' && i+1 < len(v) {
			i++
			switch v[i] {
			case 's':
				b.WriteByte(' ')
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			default:
				b.WriteByte(v[i])
			}
			continue
		}
		if split && c == ';' {
			out = append(out, b.String())
			b.Reset()
			continue
		}
		b.WriteByte(c)
	}
	if !split || b.Len() > 0 {
		out = append(out, b.String())
	}
	return out
}
