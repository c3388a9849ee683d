package documentportal

import (
	"fmt"
	"strings"
)

// Perm is a set of document permissions.
type Perm uint32

// Document permissions, as upstream numbers them.
const (
	PermRead Perm = 1 << iota
	PermWrite
	PermGrant
	PermDelete

	PermAll = PermRead | PermWrite | PermGrant | PermDelete
)

var permNames = []struct {
	p    Perm
	name string
}{
	{PermRead, "read"},
	{PermWrite, "write"},
	{PermGrant, "grant-permissions"},
	{PermDelete, "delete"},
}

// ParsePerms parses permission strings; an unknown one is InvalidArgument.
func ParsePerms(names []string) (Perm, error) {
	var p Perm
	for _, n := range names {
		found := false
		for _, pn := range permNames {
			if pn.name == n {
				p |= pn.p
				found = true
			}
		}
		if !found {
			return 0, fmt.Errorf("%w: no such permission %q", ErrInvalidArgument, n)
		}
	}
	return p, nil
}

// Strings lists p in the canonical order (read, write, grant-permissions,
// delete), as written to the permission store.
func (p Perm) Strings() []string {
	out := []string{}
	for _, pn := range permNames {
		if p&pn.p != 0 {
			out = append(out, pn.name)
		}
	}
	return out
}

func (p Perm) String() string { return strings.Join(p.Strings(), ",") }

// Has reports whether p holds every permission of q.
func (p Perm) Has(q Perm) bool { return p&q == q }

// ValidAppID reports whether id is an application id as the portals accept
// it: at most 255 bytes, at least two dot-separated non-empty elements of
// [A-Za-z0-9_], '-' allowed only in the last element, not starting with a
// dot.
func ValidAppID(id string) bool {
	if id == "" || len(id) > 255 || id[0] == '.' {
		return false
	}
	last := strings.LastIndexByte(id, '.')
	if last < 0 || last == len(id)-1 {
		return false
	}
	prevDot := false
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c == '.':
			if prevDot {
				return false
			}
			prevDot = true
			continue
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_':
		case c == '-' && i > last:
		default:
			return false
		}
		prevDot = false
	}
	return true
}
