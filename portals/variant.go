package portals

import (
	"reflect"

	"github.com/godbus/dbus/v5"
)

// godbus decodes D-Bus structs inside variants as []any, which it would
// encode back as an array. normalize rebuilds such values as Go structs
// (via reflect.StructOf) so that values passed from a backend to a caller
// keep their type.

func normalizeVariant(v dbus.Variant) dbus.Variant {
	sig := v.Signature().String()
	if sig == "" {
		return v
	}
	return dbus.MakeVariantWithSignature(normalize(reflect.ValueOf(v.Value()), sig).Interface(), v.Signature())
}

func normalizeMap(m map[string]dbus.Variant) map[string]dbus.Variant {
	for k, v := range m {
		m[k] = normalizeVariant(v)
	}
	return m
}

// nextType returns the length of the first complete type in sig.
func nextType(sig string) int {
	switch sig[0] {
	case 'a':
		return 1 + nextType(sig[1:])
	case '(', '{':
		depth := 0
		for i := 0; i < len(sig); i++ {
			switch sig[i] {
			case '(', '{':
				depth++
			case ')', '}':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return len(sig)
	}
	return 1
}

func normalize(rv reflect.Value, sig string) reflect.Value {
	if !rv.IsValid() || sig == "" {
		return rv
	}
	if rv.Kind() == reflect.Interface {
		rv = rv.Elem()
	}
	switch sig[0] {
	case 'v':
		if v, ok := rv.Interface().(dbus.Variant); ok {
			return reflect.ValueOf(normalizeVariant(v))
		}
		return reflect.ValueOf(dbus.MakeVariant(rv.Interface()))
	case '(':
		if rv.Kind() != reflect.Slice {
			return rv
		}
		inner := sig[1 : len(sig)-1]
		var fields []reflect.StructField
		var vals []reflect.Value
		for i := 0; inner != "" && i < rv.Len(); i++ {
			n := nextType(inner)
			ev := normalize(rv.Index(i), inner[:n])
			inner = inner[n:]
			fields = append(fields, reflect.StructField{Name: fieldName(i), Type: ev.Type()})
			vals = append(vals, ev)
		}
		st := reflect.New(reflect.StructOf(fields)).Elem()
		for i, v := range vals {
			st.Field(i).Set(v)
		}
		return st
	case 'a':
		if len(sig) > 1 && sig[1] == '{' {
			if rv.Kind() != reflect.Map {
				return rv
			}
			inner := sig[2 : len(sig)-1]
			kn := nextType(inner)
			valSig := inner[kn:]
			if rv.Len() == 0 {
				if t := typeForSig(sig); t != nil {
					return reflect.MakeMap(t)
				}
				return rv
			}
			var out reflect.Value
			iter := rv.MapRange()
			for iter.Next() {
				nv := normalize(iter.Value(), valSig)
				if !out.IsValid() {
					out = reflect.MakeMapWithSize(reflect.MapOf(iter.Key().Type(), nv.Type()), rv.Len())
				}
				if nv.Type() != out.Type().Elem() {
					return rv
				}
				out.SetMapIndex(iter.Key(), nv)
			}
			return out
		}
		if rv.Kind() != reflect.Slice {
			return rv
		}
		if rv.Len() == 0 {
			if t := typeForSig(sig); t != nil {
				return reflect.MakeSlice(t, 0, 0)
			}
			return rv
		}
		elemSig := sig[1:]
		if elemSig[0] != '(' && elemSig[0] != 'a' && elemSig[0] != 'v' {
			return rv
		}
		first := normalize(rv.Index(0), elemSig)
		out := reflect.MakeSlice(reflect.SliceOf(first.Type()), rv.Len(), rv.Len())
		out.Index(0).Set(first)
		for i := 1; i < rv.Len(); i++ {
			nv := normalize(rv.Index(i), elemSig)
			if nv.Type() != first.Type() {
				return rv
			}
			out.Index(i).Set(nv)
		}
		return out
	}
	return rv
}

var basicTypes = map[byte]reflect.Type{
	'y': reflect.TypeOf(byte(0)), 'b': reflect.TypeOf(false), 'n': reflect.TypeOf(int16(0)),
	'q': reflect.TypeOf(uint16(0)), 'i': reflect.TypeOf(int32(0)), 'u': reflect.TypeOf(uint32(0)),
	'x': reflect.TypeOf(int64(0)), 't': reflect.TypeOf(uint64(0)), 'd': reflect.TypeOf(float64(0)),
	's': reflect.TypeOf(""), 'o': reflect.TypeOf(dbus.ObjectPath("")), 'g': reflect.TypeOf(dbus.Signature{}),
	'h': reflect.TypeOf(dbus.UnixFDIndex(0)), 'v': reflect.TypeOf(dbus.Variant{}),
}

// typeForSig returns a Go type that godbus encodes as the single complete
// type sig, or nil.
func typeForSig(sig string) reflect.Type {
	if sig == "" {
		return nil
	}
	switch sig[0] {
	case 'a':
		if len(sig) > 1 && sig[1] == '{' {
			inner := sig[2 : len(sig)-1]
			kn := nextType(inner)
			k, v := typeForSig(inner[:kn]), typeForSig(inner[kn:])
			if k == nil || v == nil {
				return nil
			}
			return reflect.MapOf(k, v)
		}
		e := typeForSig(sig[1:])
		if e == nil {
			return nil
		}
		return reflect.SliceOf(e)
	case '(':
		inner := sig[1 : len(sig)-1]
		var fields []reflect.StructField
		for i := 0; inner != ""; i++ {
			n := nextType(inner)
			ft := typeForSig(inner[:n])
			if ft == nil {
				return nil
			}
			inner = inner[n:]
			fields = append(fields, reflect.StructField{Name: fieldName(i), Type: ft})
		}
		return reflect.StructOf(fields)
	}
	return basicTypes[sig[0]]
}

func fieldName(i int) string { return "F" + string(rune('A'+i%26)) + string(rune('A'+i/26)) }
