package object

import (
	"bytes"
	"fmt"
	"sort"

	"github.com/porthole-dev/porthole/internal/gvariant"
)

// MetadataEntry is one entry of an "a{sv}" dictionary (commit metadata,
// detached commit metadata): the key, the variant's type string and the
// serialized value in normal form.
type MetadataEntry struct {
	Key   string
	Type  string
	Value []byte
}

// Metadata is an "a{sv}" dictionary in serialized order.
type Metadata []MetadataEntry

// Lookup returns the entry for key.
func (m Metadata) Lookup(key string) (MetadataEntry, bool) {
	for _, e := range m {
		if e.Key == key {
			return e, true
		}
	}
	return MetadataEntry{}, false
}

// Set replaces or appends the entry for key.
func (m *Metadata) Set(e MetadataEntry) {
	for i := range *m {
		if (*m)[i].Key == e.Key {
			(*m)[i] = e
			return
		}
	}
	*m = append(*m, e)
}

// Sort orders entries by key in byte order.
func (m Metadata) Sort() { sort.SliceStable(m, func(i, j int) bool { return m[i].Key < m[j].Key }) }

// Marshal serializes the dictionary as "a{sv}".
func (m Metadata) Marshal() []byte {
	var b []byte
	var offs []int
	for _, e := range m {
		b = pad(b, 0, 8)
		es := len(b)
		b = appendString(b, e.Key)
		keyEnd := len(b) - es
		b = pad(b, es, 8)
		b = append(b, e.Value...)
		b = append(b, 0)
		b = append(b, e.Type...)
		b = appendOffsets(b, es, []int{keyEnd})
		offs = append(offs, len(b))
	}
	return appendOffsets(b, 0, offs)
}

// NewMetadataEntry returns the entry key → <v>.
func NewMetadataEntry(key string, v gvariant.Value) MetadataEntry {
	return MetadataEntry{Key: key, Type: v.Type().String(), Value: gvariant.Marshal(v)}
}

// Variant parses the entry's value (strictly).
func (e MetadataEntry) Variant() (gvariant.Value, error) {
	t, err := gvariant.ParseType(e.Type)
	if err != nil {
		return gvariant.Value{}, fmt.Errorf("metadata %q: %w: %v", e.Key, ErrInvalid, err)
	}
	v, err := gvariant.Unmarshal(t, e.Value)
	if err != nil {
		return v, fmt.Errorf("metadata %q: %w: %v", e.Key, ErrInvalid, err)
	}
	return v, nil
}

// UnmarshalMetadata parses an "a{sv}". Keys must be non-empty and unique.
func UnmarshalMetadata(d []byte) (Metadata, error) {
	elems, err := newFrame(d, "metadata").arrayElems(8)
	if err != nil {
		return nil, err
	}
	m := make(Metadata, 0, len(elems))
	seen := map[string]bool{}
	for _, e := range elems {
		f := newFrame(e, "metadata entry")
		keyEnd, err := f.offsetAt(0)
		if err != nil {
			return nil, err
		}
		if keyEnd < 1 || keyEnd > len(e)-f.k {
			return nil, f.errorf("bad key offset")
		}
		key, err := parseString(e[:keyEnd], "metadata key")
		if err != nil {
			return nil, err
		}
		if key == "" || seen[key] {
			return nil, fmt.Errorf("metadata: %w: empty or duplicate key %q", ErrInvalid, key)
		}
		seen[key] = true
		vs := (keyEnd + 7) &^ 7
		v := e[min(vs, len(e)-f.k) : len(e)-f.k]
		sep := bytes.LastIndexByte(v, 0)
		if sep < 0 || sep == len(v)-1 {
			return nil, fmt.Errorf("metadata %q: %w: bad variant", key, ErrInvalid)
		}
		ent := MetadataEntry{Key: key, Type: string(v[sep+1:]), Value: bytes.Clone(v[:sep])}
		if _, err := ent.Variant(); err != nil {
			return nil, err
		}
		m = append(m, ent)
	}
	if !bytes.Equal(m.Marshal(), d) {
		return nil, fmt.Errorf("metadata: %w: not in normal form", ErrInvalid)
	}
	return m, nil
}

// StringValue returns the serialized form of a GVariant "s".
func StringValue(s string) MetadataEntry {
	return MetadataEntry{Type: "s", Value: append([]byte(s), 0)}
}

// StringsValue returns the serialized form of a GVariant "as".
func StringsValue(ss []string) MetadataEntry {
	var b []byte
	var offs []int
	for _, s := range ss {
		b = appendString(b, s)
		offs = append(offs, len(b))
	}
	return MetadataEntry{Type: "as", Value: appendOffsets(b, 0, offs)}
}

// BytesValue returns the serialized form of a GVariant "ay".
func BytesValue(p []byte) MetadataEntry { return MetadataEntry{Type: "ay", Value: bytes.Clone(p)} }

// ByteArraysValue returns the serialized form of a GVariant "aay" (used for
// ostree.gpgsigs).
func ByteArraysValue(ps [][]byte) MetadataEntry {
	var b []byte
	var offs []int
	for _, p := range ps {
		b = append(b, p...)
		offs = append(offs, len(b))
	}
	return MetadataEntry{Type: "aay", Value: appendOffsets(b, 0, offs)}
}

// ParseStrings decodes a serialized "as".
func ParseStrings(d []byte) ([]string, error) {
	elems, err := newFrame(d, "as").arrayElems(1)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(elems))
	for _, e := range elems {
		s, err := parseString(e, "as")
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// ParseByteArrays decodes a serialized "aay".
func ParseByteArrays(d []byte) ([][]byte, error) {
	return newFrame(d, "aay").arrayElems(1)
}
