package summary

import (
	"strconv"

	"github.com/porthole-dev/porthole/internal/gvariant"
)

func parseNumber(typ, num string, bad error) (gvariant.Value, error) {
	bits := map[string]int{"byte": 8, "int16": 16, "uint16": 16, "int32": 32, "uint32": 32, "int64": 64, "uint64": 64, "double": 0}
	n, ok := bits[typ]
	if !ok {
		return gvariant.Value{}, bad
	}
	if typ == "double" {
		f, err := strconv.ParseFloat(num, 64)
		if err != nil {
			return gvariant.Value{}, bad
		}
		return gvariant.Double(f), nil
	}
	if typ == "byte" || typ[0] == 'u' {
		u, err := strconv.ParseUint(num, 0, n)
		if err != nil {
			return gvariant.Value{}, bad
		}
		switch typ {
		case "byte":
			return gvariant.Byte(byte(u)), nil
		case "uint16":
			return gvariant.Uint16(uint16(u)), nil
		case "uint32":
			return gvariant.Uint32(uint32(u)), nil
		}
		return gvariant.Uint64(u), nil
	}
	i, err := strconv.ParseInt(num, 0, n)
	if err != nil {
		// An untyped number that does not fit int32 is a double or an error in GLib.
		if f, ferr := strconv.ParseFloat(num, 64); ferr == nil && typ == "int32" && !isInt(num) {
			return gvariant.Double(f), nil
		}
		return gvariant.Value{}, bad
	}
	switch typ {
	case "int16":
		return gvariant.Int16(int16(i)), nil
	case "int64":
		return gvariant.Int64(i), nil
	}
	return gvariant.Int32(int32(i)), nil
}

func isInt(s string) bool {
	_, err := strconv.ParseInt(s, 0, 64)
	return err == nil
}
