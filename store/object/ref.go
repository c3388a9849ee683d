package object

import (
	"fmt"
	"strings"
)

// ValidateRef checks a ref name as ostree does: one or more '/'-separated
// non-empty components of [-._A-Za-z0-9]. Components "." and ".." are
// refused too, since refs name files under refs/.
func ValidateRef(ref string) error {
	if ref == "" {
		return fmt.Errorf("ref %q: %w: empty", ref, ErrInvalid)
	}
	for _, comp := range strings.Split(ref, "/") {
		if comp == "" || comp == "." || comp == ".." {
			return fmt.Errorf("ref %q: %w: bad component %q", ref, ErrInvalid, comp)
		}
		for i := 0; i < len(comp); i++ {
			c := comp[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
				return fmt.Errorf("ref %q: %w: bad character %q", ref, ErrInvalid, c)
			}
		}
	}
	return nil
}

// ValidateRemoteName checks a remote name: a single ref component.
func ValidateRemoteName(name string) error {
	if strings.Contains(name, "/") || ValidateRef(name) != nil {
		return fmt.Errorf("remote %q: %w", name, ErrInvalid)
	}
	return nil
}
