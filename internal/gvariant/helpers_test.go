package gvariant

import (
	"os"
	"path/filepath"
	"testing"
)

// require skips the test outside CI and fails it in CI (CI=true), like
// internal/testenv.Require.
func require(t testing.TB, ok bool, why string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("required: %s", why)
	}
	t.Skipf("skipping: %s", why)
}

// findVectors locates shared/vectors/ostree by walking up from the package
// directory (the CI clone has ../shared beside the repository).
func findVectors() (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		cand := filepath.Join(dir, "shared", "vectors", "ostree")
		if st, err := os.Stat(cand); err == nil && st.IsDir() {
			return cand, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// vectorsDir is findVectors for tests that need the vectors.
func vectorsDir(t testing.TB) string {
	t.Helper()
	dir, ok := findVectors()
	require(t, ok, "golden vectors shared/vectors/ostree not found above the package directory")
	return dir
}

// rebuild reconstructs v from its parts with the constructors, so that
// comparing Marshal(rebuild(v)) with the input tests the encoder rather than
// a byte copy.
func rebuild(v Value) Value {
	t := v.Type()
	switch t.ti.kind {
	case 'b':
		return Bool(v.Bool())
	case 'y':
		return Byte(v.Byte())
	case 'n':
		return Int16(v.Int16())
	case 'q':
		return Uint16(v.Uint16())
	case 'i':
		return Int32(v.Int32())
	case 'u':
		return Uint32(v.Uint32())
	case 'h':
		return Handle(v.Handle())
	case 'x':
		return Int64(v.Int64())
	case 't':
		return Uint64(v.Uint64())
	case 'd':
		return Double(v.Double())
	case 's':
		return String(v.Str())
	case 'o':
		return ObjectPath(v.Str())
	case 'g':
		return Signature(v.Str())
	case 'v':
		return Variant(rebuild(v.Unbox()))
	case 'm':
		if v.Len() == 0 {
			return Nothing(t.Elem())
		}
		return Just(rebuild(v.Index(0)))
	case 'a':
		if t.ti.elem.kind == 'y' {
			return Bytes(v.ByteSlice())
		}
		if t.ti.elem.kind == 's' {
			return Strings(v.StringSlice())
		}
		elems := make([]Value, v.Len())
		for i := range elems {
			elems[i] = rebuild(v.Index(i))
		}
		return Array(t.Elem(), elems...)
	case '{':
		return DictEntry(rebuild(v.Index(0)), rebuild(v.Index(1)))
	case '(':
		ms := make([]Value, v.Len())
		for i := range ms {
			ms[i] = rebuild(v.Index(i))
		}
		return Tuple(ms...)
	}
	panic("rebuild: " + t.String())
}
