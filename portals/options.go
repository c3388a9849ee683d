package portals

import (
	"fmt"

	"github.com/godbus/dbus/v5"
)

// optionTypes maps the option keys a method knows to their D-Bus type.
// Unknown keys are dropped silently; a known key of another type is an
// InvalidArgument error, as upstream.
type optionTypes map[string]string

// check validates opts against t.
func (t optionTypes) check(opts map[string]dbus.Variant) error {
	for k, v := range opts {
		want, ok := t[k]
		if !ok {
			continue
		}
		if got := v.Signature().String(); got != want {
			return fmt.Errorf("%w: option %q has type %s, want %s", ErrInvalidArgument, k, got, want)
		}
	}
	return nil
}

// filter returns the known options of opts that have the right type,
// minus skip. Portals that upstream treats leniently use it without check.
func (t optionTypes) filter(opts map[string]dbus.Variant, skip ...string) map[string]dbus.Variant {
	out := map[string]dbus.Variant{}
outer:
	for k, v := range opts {
		want, ok := t[k]
		if !ok || v.Signature().String() != want {
			continue
		}
		for _, s := range skip {
			if k == s {
				continue outer
			}
		}
		out[k] = normalizeVariant(v)
	}
	return out
}

func optString(opts map[string]dbus.Variant, key string) string {
	s, _ := opts[key].Value().(string)
	return s
}

func optBool(opts map[string]dbus.Variant, key string, def bool) bool {
	if b, ok := opts[key].Value().(bool); ok {
		return b
	}
	return def
}

func optUint(opts map[string]dbus.Variant, key string) (uint32, bool) {
	u, ok := opts[key].Value().(uint32)
	return u, ok
}
