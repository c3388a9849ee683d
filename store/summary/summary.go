package summary

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/porthole-dev/porthole/internal/gvariant"
	"github.com/porthole-dev/porthole/store/object"
)

// ErrInvalid wraps every error about a malformed summary.
var ErrInvalid = errors.New("invalid summary")

// Well-known keys.
const (
	KeyCommitTimestamp = "ostree.commit.timestamp"
	KeyCommitVersion   = "ostree.commit.version"
	KeyMode            = "ostree.summary.mode"
	KeyLastModified    = "ostree.summary.last-modified"
	KeyExpires         = "ostree.summary.expires"
	KeyTombstone       = "ostree.summary.tombstone-commits"
	KeyIndexedDeltas   = "ostree.summary.indexed-deltas"
	KeyStaticDeltas    = "ostree.static-deltas"
	KeyCollectionID    = "ostree.summary.collection-id"
	KeyCollectionMap   = "ostree.summary.collection-map"
)

// GVariant types of a summary.
var (
	Type       = gvariant.MustType("(a(s(taya{sv}))a{sv})")
	tRefEntry  = gvariant.MustType("(s(taya{sv}))")
	tDictEntry = gvariant.MustType("{sv}")
	tColEntry  = gvariant.MustType("{sa(s(taya{sv}))}")
)

// Entry is one key of an a{sv} dictionary; Value is the unboxed value.
type Entry struct {
	Key   string
	Value gvariant.Value
}

// Ref is one ref of a summary.
type Ref struct {
	Name       string
	CommitSize uint64
	Checksum   object.Checksum
	Metadata   []Entry
}

// Lookup returns the value of a per-ref metadata key.
func (r *Ref) Lookup(key string) (gvariant.Value, bool) { return lookup(r.Metadata, key) }

// Timestamp is the commit time from ostree.commit.timestamp (stored BE).
func (r *Ref) Timestamp() (time.Time, bool) {
	v, ok := r.Lookup(KeyCommitTimestamp)
	if !ok || v.Type().String() != "t" {
		return time.Time{}, false
	}
	return time.Unix(int64(swap64(v.Uint64())), 0).UTC(), true
}

// Version is ostree.commit.version, if present.
func (r *Ref) Version() (string, bool) {
	v, ok := r.Lookup(KeyCommitVersion)
	if !ok || v.Type().String() != "s" {
		return "", false
	}
	return v.Str(), true
}

// Summary is a parsed or generated summary file.
type Summary struct {
	Refs     []Ref   // sorted by Name (byte order)
	Metadata []Entry // additional metadata, in file order
}

// Lookup returns the value of an additional-metadata key.
func (s *Summary) Lookup(key string) (gvariant.Value, bool) { return lookup(s.Metadata, key) }

// Ref finds a ref by name.
func (s *Summary) Ref(name string) (*Ref, bool) {
	i := sort.Search(len(s.Refs), func(i int) bool { return s.Refs[i].Name >= name })
	if i < len(s.Refs) && s.Refs[i].Name == name {
		return &s.Refs[i], true
	}
	return nil, false
}

// Mode is ostree.summary.mode ("archive-z2" for servable repos), or "".
func (s *Summary) Mode() string {
	if v, ok := s.Lookup(KeyMode); ok && v.Type().String() == "s" {
		return v.Str()
	}
	return ""
}

// CollectionRefs returns the refs of collection id from
// ostree.summary.collection-map.
func (s *Summary) CollectionRefs(id string) ([]Ref, error) {
	v, ok := s.Lookup(KeyCollectionMap)
	if !ok {
		return nil, nil
	}
	if v.Type().String() != "a{sa(s(taya{sv}))}" {
		return nil, fmt.Errorf("%w: %s has type %s", ErrInvalid, KeyCollectionMap, v.Type())
	}
	for i := 0; i < v.Len(); i++ {
		e := v.Index(i)
		if e.Index(0).Str() == id {
			return parseRefs(e.Index(1))
		}
	}
	return nil, nil
}

func lookup(es []Entry, key string) (gvariant.Value, bool) {
	for _, e := range es {
		if e.Key == key {
			return e.Value, true
		}
	}
	return gvariant.Value{}, false
}

func swap64(v uint64) uint64 {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	return binary.BigEndian.Uint64(b[:])
}

// BEUint64 is a "t" value stored big-endian, as ostree stores timestamps.
func BEUint64(v uint64) gvariant.Value { return gvariant.Uint64(swap64(v)) }

// Parse reads a summary strictly: normal-form GVariant, 32-byte checksums,
// valid ref names, refs sorted without duplicates.
func Parse(data []byte) (*Summary, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty file", ErrInvalid)
	}
	v, err := gvariant.Unmarshal(Type, data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	refs, err := parseRefs(v.Index(0))
	if err != nil {
		return nil, err
	}
	meta, err := parseDict(v.Index(1))
	if err != nil {
		return nil, err
	}
	return &Summary{Refs: refs, Metadata: meta}, nil
}

func parseRefs(a gvariant.Value) ([]Ref, error) {
	refs := make([]Ref, 0, a.Len())
	for i := 0; i < a.Len(); i++ {
		e := a.Index(i)
		name := e.Index(0).Str()
		if err := object.ValidateRef(name); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		if i > 0 && refs[i-1].Name >= name {
			return nil, fmt.Errorf("%w: refs not sorted or duplicated at %q", ErrInvalid, name)
		}
		t := e.Index(1)
		c, err := object.ChecksumFromBytes(t.Index(1).ByteSlice())
		if err != nil {
			return nil, fmt.Errorf("%w: ref %q: %w", ErrInvalid, name, err)
		}
		meta, err := parseDict(t.Index(2))
		if err != nil {
			return nil, fmt.Errorf("ref %q: %w", name, err)
		}
		refs = append(refs, Ref{Name: name, CommitSize: t.Index(0).Uint64(), Checksum: c, Metadata: meta})
	}
	return refs, nil
}

func parseDict(d gvariant.Value) ([]Entry, error) {
	out := make([]Entry, 0, d.Len())
	for i := 0; i < d.Len(); i++ {
		e := d.Index(i)
		out = append(out, Entry{Key: e.Index(0).Str(), Value: e.Index(1).Unbox()})
	}
	return out, nil
}

func dict(es []Entry) gvariant.Value {
	vs := make([]gvariant.Value, len(es))
	for i, e := range es {
		vs[i] = gvariant.DictEntry(gvariant.String(e.Key), gvariant.Variant(e.Value))
	}
	return gvariant.Array(tDictEntry, vs...)
}

func refsValue(refs []Ref) gvariant.Value {
	vs := make([]gvariant.Value, len(refs))
	for i, r := range refs {
		vs[i] = gvariant.Tuple(gvariant.String(r.Name), gvariant.Tuple(
			gvariant.Uint64(r.CommitSize), gvariant.Bytes(r.Checksum[:]), dict(r.Metadata)))
	}
	return gvariant.Array(tRefEntry, vs...)
}

// Marshal serialises the summary; refs are sorted first.
func (s *Summary) Marshal() []byte {
	sort.Slice(s.Refs, func(i, j int) bool { return s.Refs[i].Name < s.Refs[j].Name })
	return gvariant.Marshal(gvariant.Tuple(refsValue(s.Refs), dict(s.Metadata)))
}

// CollectionMapValue builds an ostree.summary.collection-map value from
// collection id → refs (each list sorted by name, ids sorted too).
func CollectionMapValue(m map[string][]Ref) gvariant.Value {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	vs := make([]gvariant.Value, len(ids))
	for i, id := range ids {
		refs := m[id]
		sort.Slice(refs, func(a, b int) bool { return refs[a].Name < refs[b].Name })
		vs[i] = gvariant.DictEntry(gvariant.String(id), refsValue(refs))
	}
	return gvariant.Array(tColEntry, vs...)
}

// ParseValue reads the value of a --add-metadata=KEY=VALUE option. Like
// ostree it takes GVariant text: 'string' or "string", true/false,
// integers (int32 unless typed: "uint64 5", "byte 3", …), doubles, and
// [...] lists of strings; anything else is an error.
func ParseValue(text string) (gvariant.Value, error) {
	s := strings.TrimSpace(text)
	bad := fmt.Errorf("cannot parse GVariant text %q", text)
	if s == "" {
		return gvariant.Value{}, bad
	}
	switch s {
	case "true":
		return gvariant.Bool(true), nil
	case "false":
		return gvariant.Bool(false), nil
	}
	if q := s[0]; q == '\'' || q == '"' {
		str, ok := unquote(s)
		if !ok {
			return gvariant.Value{}, bad
		}
		if err := gvariant.CheckString(str); err != nil {
			return gvariant.Value{}, bad
		}
		return gvariant.String(str), nil
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		inner := strings.TrimSpace(s[1 : len(s)-1])
		var items []string
		if inner != "" {
			for _, part := range splitList(inner) {
				str, ok := unquote(strings.TrimSpace(part))
				if !ok {
					return gvariant.Value{}, bad
				}
				items = append(items, str)
			}
		}
		return gvariant.Strings(items), nil
	}
	typ, num := "int32", s
	if f := strings.Fields(s); len(f) == 2 {
		typ, num = f[0], f[1]
	}
	return parseNumber(typ, num, bad)
}

func unquote(s string) (string, bool) {
	if len(s) < 2 || s[0] != s[len(s)-1] || (s[0] != '\'' && s[0] != '"') {
		return "", false
	}
	var b strings.Builder
	body := s[1 : len(s)-1]
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c == '\\' && i+1 < len(body) {
			i++
			switch body[i] {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			default:
				b.WriteByte(body[i])
			}
			continue
		}
		if c == s[0] {
			return "", false
		}
		b.WriteByte(c)
	}
	return b.String(), true
}

func splitList(s string) []string {
	var out []string
	var quote byte
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == '\\':
			i++
		case quote != 0 && c == quote:
			quote = 0
		case quote == 0 && (c == '\'' || c == '"'):
			quote = c
		case quote == 0 && c == ',':
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}
