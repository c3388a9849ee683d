package gvdb

import (
	"fmt"

	"github.com/porthole-dev/porthole/internal/gvariant"
)

// Value returns the value stored under key, decoded (strictly: only
// normal-form data, which is what gvdb writers store). Errors are those of
// RawValue, or ErrInvalid wrapping the decoding error.
func (t *Table) Value(key string) (gvariant.Value, error) {
	typ, raw, err := t.RawValue(key)
	if err != nil {
		return gvariant.Value{}, err
	}
	vt, err := gvariant.ParseType(typ)
	if err != nil {
		return gvariant.Value{}, fmt.Errorf("%w: value of %q: %v", ErrInvalid, key, err)
	}
	v, err := gvariant.Unmarshal(vt, raw)
	if err != nil {
		return gvariant.Value{}, fmt.Errorf("%w: value of %q: %v", ErrInvalid, key, err)
	}
	return v, nil
}

// SetValue stores v under key.
func (h *HashTable) SetValue(key string, v gvariant.Value) {
	h.SetRaw(key, v.Type().String(), v.Data())
}
