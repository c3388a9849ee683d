package store

import (
	"bytes"
	"fmt"
	"strings"
)

// Config is a repository config file: a GKeyFile with groups such as
// [core] and [remote "NAME"]. Comments, blank lines and order are kept on
// rewrite. Values are stored unescaped.
type Config struct {
	groups []*configGroup
	head   []string // comments before the first group
}

type configGroup struct {
	name  string
	lines []configLine
}

type configLine struct {
	key, value string
	raw        string // comment or blank line when key == ""
}

// ParseConfig parses keyfile text.
func ParseConfig(data []byte) (*Config, error) {
	c := &Config{}
	var cur *configGroup
	lines := strings.Split(string(data), "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for i, line := range lines {
		n := i + 1
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "" || trimmed[0] == '#':
			if cur == nil {
				c.head = append(c.head, line)
			} else {
				cur.lines = append(cur.lines, configLine{raw: line})
			}
		case trimmed[0] == '[':
			if !strings.HasSuffix(trimmed, "]") {
				return nil, fmt.Errorf("config line %d: bad group header", n)
			}
			cur = &configGroup{name: trimmed[1 : len(trimmed)-1]}
			c.groups = append(c.groups, cur)
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || cur == nil {
				return nil, fmt.Errorf("config line %d: not a key=value pair in a group", n)
			}
			cur.lines = append(cur.lines, configLine{key: strings.TrimSpace(k), value: unescapeValue(strings.TrimLeft(v, " \t"))})
		}
	}
	return c, nil
}

func unescapeValue(v string) string {
	if !strings.Contains(v, `\`) {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] != '\\' || i+1 == len(v) {
			b.WriteByte(v[i])
			continue
		}
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
	}
	return b.String()
}

func escapeValue(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == ' ' && i == 0:
			b.WriteString(`\s`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\t':
			b.WriteString(`\t`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\\':
			b.WriteString(`\\`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func (c *Config) group(name string) *configGroup {
	for _, g := range c.groups {
		if g.name == name {
			return g
		}
	}
	return nil
}

// Value returns the value of key in group.
func (c *Config) Value(group, key string) (string, bool) {
	if g := c.group(group); g != nil {
		for i := len(g.lines) - 1; i >= 0; i-- {
			if g.lines[i].key == key {
				return g.lines[i].value, true
			}
		}
	}
	return "", false
}

// SetValue sets key in group, creating both as needed.
func (c *Config) SetValue(group, key, value string) {
	g := c.group(group)
	if g == nil {
		g = &configGroup{name: group}
		c.groups = append(c.groups, g)
	}
	for i := range g.lines {
		if g.lines[i].key == key {
			g.lines[i].value = value
			return
		}
	}
	// Insert after the last key, before trailing blank lines.
	at := len(g.lines)
	for at > 0 && g.lines[at-1].key == "" {
		at--
	}
	g.lines = append(g.lines[:at], append([]configLine{{key: key, value: value}}, g.lines[at:]...)...)
}

// DeleteKey removes key from group; it reports whether it existed.
func (c *Config) DeleteKey(group, key string) bool {
	g := c.group(group)
	if g == nil {
		return false
	}
	for i := range g.lines {
		if g.lines[i].key == key {
			g.lines = append(g.lines[:i], g.lines[i+1:]...)
			return true
		}
	}
	return false
}

// DeleteGroup removes a whole group; it reports whether it existed.
func (c *Config) DeleteGroup(group string) bool {
	for i, g := range c.groups {
		if g.name == group {
			c.groups = append(c.groups[:i], c.groups[i+1:]...)
			return true
		}
	}
	return false
}

// Groups lists group names in file order.
func (c *Config) Groups() []string {
	out := make([]string, 0, len(c.groups))
	for _, g := range c.groups {
		out = append(out, g.name)
	}
	return out
}

// Keys lists the keys of group in file order.
func (c *Config) Keys(group string) []string {
	var out []string
	if g := c.group(group); g != nil {
		for _, l := range g.lines {
			if l.key != "" {
				out = append(out, l.key)
			}
		}
	}
	return out
}

// Marshal renders the config as GKeyFile writes it: groups separated by a
// blank line.
func (c *Config) Marshal() []byte {
	var b bytes.Buffer
	for _, l := range c.head {
		b.WriteString(l + "\n")
	}
	for i, g := range c.groups {
		if i > 0 && !endsBlank(b.Bytes()) {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "[%s]\n", g.name)
		for _, l := range g.lines {
			if l.key == "" {
				b.WriteString(l.raw + "\n")
			} else {
				b.WriteString(l.key + "=" + escapeValue(l.value) + "\n")
			}
		}
	}
	return b.Bytes()
}

func endsBlank(b []byte) bool { return len(b) == 0 || bytes.HasSuffix(b, []byte("\n\n")) }

// Clone returns a deep copy.
func (c *Config) Clone() *Config {
	n, _ := ParseConfig(c.Marshal())
	return n
}
