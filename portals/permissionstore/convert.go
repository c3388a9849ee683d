package permissionstore

import (
	"cmp"
	"fmt"
	"reflect"
	"slices"

	"github.com/godbus/dbus/v5"

	"github.com/porthole-dev/porthole/internal/gvariant"
)

const maxDepth = 64

func fromGo(t gvariant.Type, rv reflect.Value, depth int) (gvariant.Value, error) {
	ts := t.String()
	bad := func() (gvariant.Value, error) {
		return gvariant.Value{}, fmt.Errorf("%w: %s value of Go type %v", ErrInvalidArgument, ts, rv.Type())
	}
	if depth > maxDepth {
		return gvariant.Value{}, fmt.Errorf("%w: value nested too deeply", ErrInvalidArgument)
	}
	if !rv.IsValid() {
		return gvariant.Value{}, fmt.Errorf("%w: missing %s value", ErrInvalidArgument, ts)
	}
	if rv.Kind() == reflect.Interface {
		rv = rv.Elem()
		if !rv.IsValid() {
			return gvariant.Value{}, fmt.Errorf("%w: missing %s value", ErrInvalidArgument, ts)
		}
	}
	switch ts[0] {
	case 'b':
		if rv.Kind() != reflect.Bool {
			return bad()
		}
		return gvariant.Bool(rv.Bool()), nil
	case 'y':
		if rv.Kind() != reflect.Uint8 {
			return bad()
		}
		return gvariant.Byte(byte(rv.Uint())), nil
	case 'n':
		if rv.Kind() != reflect.Int16 {
			return bad()
		}
		return gvariant.Int16(int16(rv.Int())), nil
	case 'q':
		if rv.Kind() != reflect.Uint16 {
			return bad()
		}
		return gvariant.Uint16(uint16(rv.Uint())), nil
	case 'i':
		if rv.Kind() != reflect.Int32 {
			return bad()
		}
		return gvariant.Int32(int32(rv.Int())), nil
	case 'h':
		switch rv.Kind() {
		case reflect.Int32, reflect.Int:
			return gvariant.Handle(int32(rv.Int())), nil
		case reflect.Uint32:
			return gvariant.Handle(int32(rv.Uint())), nil
		}
		return bad()
	case 'u':
		if rv.Kind() != reflect.Uint32 {
			return bad()
		}
		return gvariant.Uint32(uint32(rv.Uint())), nil
	case 'x':
		if rv.Kind() != reflect.Int64 {
			return bad()
		}
		return gvariant.Int64(rv.Int()), nil
	case 't':
		if rv.Kind() != reflect.Uint64 {
			return bad()
		}
		return gvariant.Uint64(rv.Uint()), nil
	case 'd':
		if rv.Kind() != reflect.Float64 {
			return bad()
		}
		return gvariant.Double(rv.Float()), nil
	case 's', 'o', 'g':
		if sig, ok := rv.Interface().(dbus.Signature); ok {
			rv = reflect.ValueOf(sig.String())
		}
		if rv.Kind() != reflect.String {
			return bad()
		}
		return stringValue(ts[0], rv.String())
	case 'v':
		dv, ok := rv.Interface().(dbus.Variant)
		if !ok {
			return bad()
		}
		inner, err := fromDBusVariant(dv, depth+1)
		if err != nil {
			return gvariant.Value{}, err
		}
		return gvariant.Variant(inner), nil
	case 'a':
		elem := t.Elem()
		if es := elem.String(); es[0] == '{' {
			return dictFromGo(elem, rv, depth)
		}
		if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
			return bad()
		}
		if elem.String() == "y" && rv.Type().Elem().Kind() == reflect.Uint8 {
			return gvariant.Bytes(rv.Bytes()), nil
		}
		elems := make([]gvariant.Value, rv.Len())
		for i := range elems {
			e, err := fromGo(elem, rv.Index(i), depth+1)
			if err != nil {
				return gvariant.Value{}, err
			}
			elems[i] = e
		}
		return gvariant.Array(elem, elems...), nil
	case '(':
		if rv.Kind() != reflect.Slice || rv.Len() != t.NumMembers() {
			return bad()
		}
		members := make([]gvariant.Value, rv.Len())
		for i := range members {
			m, err := fromGo(t.Member(i), rv.Index(i), depth+1)
			if err != nil {
				return gvariant.Value{}, err
			}
			members[i] = m
		}
		return gvariant.Tuple(members...), nil
	}
	return bad()
}

// fromDBusVariant converts a variant godbus decoded into a GVariant value
// of the same type. godbus decodes dictionaries into Go maps, so their
// entry order is lost; entries come out sorted by key.
func fromDBusVariant(dv dbus.Variant, depth int) (gvariant.Value, error) {
	t, err := gvariant.ParseType(dv.Signature().String())
	if err != nil {
		return gvariant.Value{}, fmt.Errorf("%w: variant signature %q: %v", ErrInvalidArgument, dv.Signature(), err)
	}
	return fromGo(t, reflect.ValueOf(dv.Value()), depth)
}

func dictFromGo(entry gvariant.Type, rv reflect.Value, depth int) (gvariant.Value, error) {
	if rv.Kind() != reflect.Map {
		return gvariant.Value{}, fmt.Errorf("%w: a%s value of Go type %v", ErrInvalidArgument, entry, rv.Type())
	}
	keys := rv.MapKeys()
	slices.SortFunc(keys, compareKeys)
	elems := make([]gvariant.Value, len(keys))
	for i, k := range keys {
		kv, err := fromGo(entry.Member(0), k, depth+1)
		if err != nil {
			return gvariant.Value{}, err
		}
		vv, err := fromGo(entry.Member(1), rv.MapIndex(k), depth+1)
		if err != nil {
			return gvariant.Value{}, err
		}
		elems[i] = gvariant.DictEntry(kv, vv)
	}
	return gvariant.Array(entry, elems...), nil
}

// compareKeys orders dictionary keys (basic types) naturally.
func compareKeys(a, b reflect.Value) int {
	switch a.Kind() {
	case reflect.String:
		return cmp.Compare(a.String(), b.String())
	case reflect.Bool:
		return cmp.Compare(boolInt(a.Bool()), boolInt(b.Bool()))
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Int:
		return cmp.Compare(a.Int(), b.Int())
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uint:
		return cmp.Compare(a.Uint(), b.Uint())
	case reflect.Float32, reflect.Float64:
		return cmp.Compare(a.Float(), b.Float())
	}
	return 0
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// toDBusVariant converts a GVariant value into a godbus variant that
// encodes to the same D-Bus type. Inside variants, dictionaries become
// slices of two-field structs: the wire format of a dict entry and of a
// struct is the same, and unlike a Go map a slice keeps the entry order.
// Maybe types and the unit tuple have no D-Bus form and are an error.
func toDBusVariant(v gvariant.Value) (dbus.Variant, error) {
	return toDBusVariantDepth(v, 0)
}

func toDBusVariantDepth(v gvariant.Value, depth int) (dbus.Variant, error) {
	gv, err := toGo(v, depth)
	if err != nil {
		return dbus.Variant{}, err
	}
	sig, err := dbus.ParseSignature(v.Type().String())
	if err != nil {
		return dbus.Variant{}, fmt.Errorf("%w: type %s has no D-Bus form", ErrFailed, v.Type())
	}
	return dbus.MakeVariantWithSignature(gv, sig), nil
}

var variantType = reflect.TypeFor[dbus.Variant]()

// goType is the Go type godbus encodes as GVariant type t.
func goType(t gvariant.Type) (reflect.Type, error) {
	ts := t.String()
	switch ts[0] {
	case 'b':
		return reflect.TypeFor[bool](), nil
	case 'y':
		return reflect.TypeFor[byte](), nil
	case 'n':
		return reflect.TypeFor[int16](), nil
	case 'q':
		return reflect.TypeFor[uint16](), nil
	case 'i':
		return reflect.TypeFor[int32](), nil
	case 'u':
		return reflect.TypeFor[uint32](), nil
	case 'x':
		return reflect.TypeFor[int64](), nil
	case 't':
		return reflect.TypeFor[uint64](), nil
	case 'd':
		return reflect.TypeFor[float64](), nil
	case 's':
		return reflect.TypeFor[string](), nil
	case 'o':
		return reflect.TypeFor[dbus.ObjectPath](), nil
	case 'g':
		return reflect.TypeFor[dbus.Signature](), nil
	case 'v':
		return variantType, nil
	case 'a':
		et, err := goType(t.Elem())
		if err != nil {
			return nil, err
		}
		return reflect.SliceOf(et), nil
	case '(', '{':
		n := t.NumMembers()
		if n == 0 {
			break
		}
		fields := make([]reflect.StructField, n)
		for i := range fields {
			ft, err := goType(t.Member(i))
			if err != nil {
				return nil, err
			}
			fields[i] = reflect.StructField{Name: fmt.Sprintf("F%d", i), Type: ft}
		}
		return reflect.StructOf(fields), nil
	}
	return nil, fmt.Errorf("%w: type %s has no D-Bus form", ErrFailed, ts)
}

func toGo(v gvariant.Value, depth int) (any, error) {
	rv, err := toReflect(v, depth)
	if err != nil {
		return nil, err
	}
	return rv.Interface(), nil
}

func toReflect(v gvariant.Value, depth int) (reflect.Value, error) {
	if depth > maxDepth {
		return reflect.Value{}, fmt.Errorf("%w: value nested too deeply", ErrFailed)
	}
	t := v.Type()
	ts := t.String()
	switch ts[0] {
	case 'b':
		return reflect.ValueOf(v.Bool()), nil
	case 'y':
		return reflect.ValueOf(v.Byte()), nil
	case 'n':
		return reflect.ValueOf(v.Int16()), nil
	case 'q':
		return reflect.ValueOf(v.Uint16()), nil
	case 'i':
		return reflect.ValueOf(v.Int32()), nil
	case 'u':
		return reflect.ValueOf(v.Uint32()), nil
	case 'x':
		return reflect.ValueOf(v.Int64()), nil
	case 't':
		return reflect.ValueOf(v.Uint64()), nil
	case 'd':
		return reflect.ValueOf(v.Double()), nil
	case 's':
		return reflect.ValueOf(v.Str()), nil
	case 'o':
		return reflect.ValueOf(dbus.ObjectPath(v.Str())), nil
	case 'g':
		sig, err := dbus.ParseSignature(v.Str())
		if err != nil {
			return reflect.Value{}, fmt.Errorf("%w: signature %q: %v", ErrFailed, v.Str(), err)
		}
		return reflect.ValueOf(sig), nil
	case 'v':
		dv, err := toDBusVariantDepth(v.Unbox(), depth+1)
		if err != nil {
			return reflect.Value{}, err
		}
		return reflect.ValueOf(dv), nil
	case 'a':
		if ts == "ay" {
			return reflect.ValueOf(append([]byte{}, v.ByteSlice()...)), nil
		}
		gt, err := goType(t)
		if err != nil {
			return reflect.Value{}, err
		}
		n := v.Len()
		out := reflect.MakeSlice(gt, n, n)
		for i := range n {
			e, err := toReflect(v.Index(i), depth+1)
			if err != nil {
				return reflect.Value{}, err
			}
			out.Index(i).Set(e)
		}
		return out, nil
	case '(', '{':
		gt, err := goType(t)
		if err != nil {
			return reflect.Value{}, err
		}
		out := reflect.New(gt).Elem()
		for i := range t.NumMembers() {
			m, err := toReflect(v.Index(i), depth+1)
			if err != nil {
				return reflect.Value{}, err
			}
			out.Field(i).Set(m)
		}
		return out, nil
	}
	return reflect.Value{}, fmt.Errorf("%w: type %s has no D-Bus form", ErrFailed, ts)
}
