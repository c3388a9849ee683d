package keyfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Errors returned by the package, wrapped with the group, key or line.
var (
	ErrParse           = errors.New("invalid key file")
	ErrGroupNotFound   = errors.New("group not found")
	ErrKeyNotFound     = errors.New("key not found")
	ErrInvalidValue    = errors.New("invalid value")
	ErrUnknownEncoding = errors.New("unsupported encoding")
	ErrInvalidName     = errors.New("invalid group or key name")
)

// ParseError describes a line that cannot be parsed. It unwraps to ErrParse,
// or to ErrUnknownEncoding for an Encoding key other than UTF-8.
type ParseError struct {
	Line int    // 1-based line number
	Msg  string // what is wrong, quoting the offending text
	Err  error  // ErrParse or ErrUnknownEncoding
}

func (e *ParseError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }
func (e *ParseError) Unwrap() error { return e.Err }

// File is a parsed key file. The zero value is not usable; use New or Parse.
// A File is not safe for concurrent use when one of the users modifies it.
type File struct {
	groups []*group // groups[0] is the unnamed top group
	byName map[string]*group
}

// group mirrors GLib's: lines in file order, and a lookup map in which the
// last line for a key wins. Lines shadowed by a later duplicate stay in
// lines (and are written) but are not in lookup.
type group struct {
	name   string
	lines  []*line
	lookup map[string]*line
	// tight records that the parsed header directly followed a non-blank
	// line, where g_key_file_to_data would insert a blank one.
	tight bool
}

// line is a key-value pair, or a comment or blank line when comment is set,
// in which case value is the whole line as read.
type line struct {
	key, value string
	comment    bool
}

// New returns an empty key file.
func New() *File {
	return &File{groups: []*group{{lookup: map[string]*line{}}}, byName: map[string]*group{}}
}

// Load reads and parses the key file at path.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return f, nil
}

// Parse parses data as GLib does with G_KEY_FILE_KEEP_COMMENTS and
// G_KEY_FILE_KEEP_TRANSLATIONS. Lines end at '\n'; a '\r' before it is
// dropped, and so is everything from a NUL byte to the end of its line.
// Errors are *ParseError.
func Parse(data []byte) (*File, error) {
	f := New()
	cur := f.groups[0]
	prevBlank := true // whether the previous line was empty (or absent)
	for n := 1; len(data) > 0; n++ {
		var raw []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			raw, data = data[:i], data[i+1:]
			raw = bytes.TrimSuffix(raw, []byte{'\r'})
		} else {
			raw, data = data, nil
		}
		// GLib handles lines as C strings: a NUL byte ends the line.
		if i := bytes.IndexByte(raw, 0); i >= 0 {
			raw = raw[:i]
		}
		groups := len(f.groups)
		g, err := f.parseLine(cur, string(raw))
		if err != nil {
			err.Line = n
			return nil, err
		}
		if len(f.groups) > groups {
			g.tight = !prevBlank
		}
		cur = g
		prevBlank = len(raw) == 0
	}
	return f, nil
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

func trimLeftSpace(s string) string {
	for len(s) > 0 && isSpace(s[0]) {
		s = s[1:]
	}
	return s
}

func trimRightSpace(s string) string {
	for len(s) > 0 && isSpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

func (f *File) parseLine(cur *group, raw string) (*group, *ParseError) {
	s := trimLeftSpace(raw)
	switch {
	case s == "" || s[0] == '#':
		cur.lines = append(cur.lines, &line{value: raw, comment: true})
		return cur, nil
	case isGroupLine(s):
		name := s[1:strings.IndexByte(s, ']')]
		if !validGroupName(name) {
			return nil, &ParseError{Msg: fmt.Sprintf("invalid group name %q", name), Err: ErrParse}
		}
		return f.addGroup(name), nil
	case strings.IndexByte(s, '=') > 0:
		if cur.name == "" {
			return nil, &ParseError{Msg: fmt.Sprintf("key-value pair %q before the first group", s), Err: ErrParse}
		}
		eq := strings.IndexByte(s, '=')
		key, value := trimRightSpace(s[:eq]), trimLeftSpace(s[eq+1:])
		if !validKeyName(key) {
			return nil, &ParseError{Msg: fmt.Sprintf("invalid key name %q", key), Err: ErrParse}
		}
		if key == "Encoding" && cur == f.startGroup() && !strings.EqualFold(value, "UTF-8") {
			return nil, &ParseError{Msg: fmt.Sprintf("encoding %q is not UTF-8", value), Err: ErrUnknownEncoding}
		}
		l := &line{key: key, value: value}
		cur.lines = append(cur.lines, l)
		cur.lookup[key] = l
		return cur, nil
	default:
		return nil, &ParseError{Msg: fmt.Sprintf("%q is not a group, key-value pair or comment", raw), Err: ErrParse}
	}
}

// startGroup is the first named group, where an Encoding key is checked.
func (f *File) startGroup() *group {
	if len(f.groups) < 2 {
		return nil
	}
	return f.groups[1]
}

// isGroupLine reports whether s is "[...]" followed only by spaces and tabs.
func isGroupLine(s string) bool {
	if s == "" || s[0] != '[' {
		return false
	}
	end := strings.IndexByte(s, ']')
	if end < 0 {
		return false
	}
	return strings.Trim(s[end+1:], " \t") == ""
}

// validGroupName: non-empty, without '[', ']' or ASCII control characters.
func validGroupName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c == '[' || c == ']' || c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

// validKeyName follows GLib: a non-empty base without '=', '[' or ']' and
// without leading or trailing space, then an optional "[locale]" of letters,
// digits, '-', '_', '.' and '@', ending the key.
func validKeyName(key string) bool {
	i := strings.IndexAny(key, "=[]\x00")
	base := key
	if i >= 0 {
		base = key[:i]
	}
	if base == "" || base[0] == ' ' || base[len(base)-1] == ' ' {
		return false
	}
	if i < 0 {
		return true
	}
	if key[i] != '[' {
		return false
	}
	loc := key[i+1:]
	for len(loc) > 0 {
		r, size := utf8.DecodeRuneInString(loc)
		if !validLocaleRune(r, size) {
			break
		}
		loc = loc[size:]
	}
	return loc == "]"
}

func validLocaleRune(r rune, size int) bool {
	if r == utf8.RuneError && size <= 1 {
		return false
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_' || r == '.' || r == '@'
}

func (f *File) addGroup(name string) *group {
	if g, ok := f.byName[name]; ok {
		return g
	}
	g := &group{name: name, lookup: map[string]*line{}}
	f.groups = append(f.groups, g)
	f.byName[name] = g
	return g
}

// Bytes returns the key file as text. It is what g_key_file_to_data returns
// for the same content and edits, except that a group header that directly
// followed a non-blank line in the parsed input is written the same way,
// where GLib inserts a blank line. So a parsed file is written back byte
// for byte (line ends aside: "\r\n" becomes "\n", and a final newline is
// added). Use ToData for GLib's exact output.
func (f *File) Bytes() []byte { return f.write(true) }

// ToData returns exactly what g_key_file_to_data returns: each group after
// the first is separated from what precedes it by at least one blank line.
func (f *File) ToData() []byte { return f.write(false) }

func (f *File) write(keepTight bool) []byte {
	var b bytes.Buffer
	for _, g := range f.groups {
		if n := b.Len(); n >= 2 && b.Bytes()[n-2] != '\n' && !(keepTight && g.tight) {
			b.WriteByte('\n')
		}
		if g.name != "" {
			b.WriteString("[" + g.name + "]\n")
		}
		for _, l := range g.lines {
			if !l.comment {
				b.WriteString(l.key + "=")
			}
			b.WriteString(l.value + "\n")
		}
	}
	return b.Bytes()
}

// WriteTo writes Bytes() to w.
func (f *File) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(f.Bytes())
	return int64(n), err
}

// Groups returns the group names in file order.
func (f *File) Groups() []string {
	names := make([]string, 0, len(f.groups)-1)
	for _, g := range f.groups[1:] {
		names = append(names, g.name)
	}
	return names
}

// HasGroup reports whether the group exists.
func (f *File) HasGroup(group string) bool {
	_, ok := f.byName[group]
	return ok
}

// HasKey reports whether the group has the key.
func (f *File) HasKey(group, key string) bool {
	g, ok := f.byName[group]
	if !ok {
		return false
	}
	_, ok = g.lookup[key]
	return ok
}

func (f *File) group(name string) (*group, error) {
	g, ok := f.byName[name]
	if !ok {
		return nil, fmt.Errorf("group %q: %w", name, ErrGroupNotFound)
	}
	return g, nil
}

// Keys returns the keys of group in file order. Like GLib it lists a
// duplicate key once per line.
func (f *File) Keys(group string) ([]string, error) {
	g, err := f.group(group)
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, l := range g.lines {
		if !l.comment {
			keys = append(keys, l.key)
		}
	}
	return keys, nil
}

// Value returns the raw value of key in group.
func (f *File) Value(group, key string) (string, error) {
	g, err := f.group(group)
	if err != nil {
		return "", err
	}
	l, ok := g.lookup[key]
	if !ok {
		return "", fmt.Errorf("key %q in group %q: %w", key, group, ErrKeyNotFound)
	}
	return l.value, nil
}

// SetValue sets the raw value of key in group, creating the group (at the
// end) and the key (after the group's last line) as needed. The value must
// not contain line breaks or NUL, nor start with whitespace, which a reader
// would drop.
func (f *File) SetValue(group, key, value string) error {
	if !validGroupName(group) {
		return fmt.Errorf("group %q: %w", group, ErrInvalidName)
	}
	if !validKeyName(key) {
		return fmt.Errorf("key %q: %w", key, ErrInvalidName)
	}
	if strings.ContainsAny(value, "\n\r\x00") || (value != "" && isSpace(value[0])) {
		return fmt.Errorf("key %q in group %q: raw value %q: %w", key, group, value, ErrInvalidValue)
	}
	g := f.addGroup(group)
	if l, ok := g.lookup[key]; ok {
		l.value = value
		return nil
	}
	l := &line{key: key, value: value}
	g.lines = append(g.lines, l)
	g.lookup[key] = l
	return nil
}

// RemoveKey removes key from group. Of duplicate lines only the last goes,
// as in GLib; the earlier ones stay in the file but are no longer found.
func (f *File) RemoveKey(group, key string) error {
	g, err := f.group(group)
	if err != nil {
		return err
	}
	l, ok := g.lookup[key]
	if !ok {
		return fmt.Errorf("key %q in group %q: %w", key, group, ErrKeyNotFound)
	}
	delete(g.lookup, key)
	for i, x := range g.lines {
		if x == l {
			g.lines = append(g.lines[:i], g.lines[i+1:]...)
			break
		}
	}
	return nil
}

// RemoveGroup removes group with its keys and the comment and blank lines
// that follow them up to the next group.
func (f *File) RemoveGroup(group string) error {
	g, err := f.group(group)
	if err != nil {
		return err
	}
	delete(f.byName, group)
	for i, x := range f.groups {
		if x == g {
			f.groups = append(f.groups[:i], f.groups[i+1:]...)
			break
		}
	}
	return nil
}
