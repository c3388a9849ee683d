package ref

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
)

// Errors.
var (
	ErrInvalid   = errors.New("invalid ref")
	ErrNoMatch   = errors.New("nothing matches")
	ErrAmbiguous = errors.New("ambiguous ref")
)

// Kind is "app" or "runtime".
type Kind string

// Kinds.
const (
	App     Kind = "app"
	Runtime Kind = "runtime"
)

// Ref is a full Flatpak ref.
type Ref struct {
	Kind   Kind
	ID     string
	Arch   string
	Branch string
}

// String returns KIND/ID/ARCH/BRANCH.
func (r Ref) String() string {
	return string(r.Kind) + "/" + r.ID + "/" + r.Arch + "/" + r.Branch
}

// Pref returns ID/ARCH/BRANCH.
func (r Ref) Pref() string { return r.ID + "/" + r.Arch + "/" + r.Branch }

// IsApp reports whether r is an application.
func (r Ref) IsApp() bool { return r.Kind == App }

// NativeArch is the Flatpak name of the machine's architecture.
func NativeArch() string {
	switch runtime.GOARCH {
	case "amd64":
		return "x86_64"
	case "386":
		return "i386"
	case "arm64":
		return "aarch64"
	case "arm":
		return "arm"
	}
	return runtime.GOARCH
}

// Parse parses and validates a full ref.
func Parse(s string) (Ref, error) {
	parts := strings.Split(s, "/")
	if len(parts) != 4 {
		return Ref{}, fmt.Errorf("%w %q: wrong number of components", ErrInvalid, s)
	}
	if parts[0] != string(App) && parts[0] != string(Runtime) {
		return Ref{}, fmt.Errorf("%w %q: %s is not application or runtime", ErrInvalid, s, parts[0])
	}
	r := Ref{Kind(parts[0]), parts[1], parts[2], parts[3]}
	if err := r.Validate(); err != nil {
		return Ref{}, err
	}
	return r, nil
}

// ParsePref parses ID/ARCH/BRANCH (metadata runtime= and sdk=) as kind.
func ParsePref(kind Kind, s string) (Ref, error) {
	return Parse(string(kind) + "/" + s)
}

// Validate checks every part of r.
func (r Ref) Validate() error {
	if r.Kind != App && r.Kind != Runtime {
		return fmt.Errorf("%w: kind %q", ErrInvalid, r.Kind)
	}
	if err := ValidateID(r.ID); err != nil {
		return err
	}
	if err := ValidateArch(r.Arch); err != nil {
		return err
	}
	return ValidateBranch(r.Branch)
}

// ValidateID checks an application or runtime name as Flatpak does.
func ValidateID(id string) error {
	if id == "" {
		return fmt.Errorf("%w: name can't be empty", ErrInvalid)
	}
	if len(id) > 255 {
		return fmt.Errorf("%w: name can't be longer than 255 characters", ErrInvalid)
	}
	elems := strings.Split(id, ".")
	if len(elems) < 3 {
		return fmt.Errorf("%w: name %q must contain at least 2 periods", ErrInvalid, id)
	}
	for i, e := range elems {
		if e == "" {
			return fmt.Errorf("%w: name %q can't contain empty elements", ErrInvalid, id)
		}
		if e[0] >= '0' && e[0] <= '9' {
			return fmt.Errorf("%w: name %q: element can't start with a digit", ErrInvalid, id)
		}
		last := i == len(elems)-1
		for _, c := range []byte(e) {
			switch {
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_':
			case c == '-':
				if !last {
					return fmt.Errorf("%w: name %q: only last name segment can contain -", ErrInvalid, id)
				}
			default:
				return fmt.Errorf("%w: name %q can't contain %q", ErrInvalid, id, c)
			}
		}
	}
	return nil
}

// ValidateArch checks an architecture name.
func ValidateArch(a string) error {
	if a == "" {
		return fmt.Errorf("%w: arch can't be empty", ErrInvalid)
	}
	for _, c := range []byte(a) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return fmt.Errorf("%w: arch %q can't contain %q", ErrInvalid, a, c)
		}
	}
	return nil
}

// ValidateBranch checks a branch name.
func ValidateBranch(b string) error {
	if b == "" {
		return fmt.Errorf("%w: branch can't be empty", ErrInvalid)
	}
	for i, c := range []byte(b) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
		if !ok && !(i > 0 && c == '.') {
			return fmt.Errorf("%w: branch %q can't contain %q", ErrInvalid, b, c)
		}
	}
	return nil
}

// Partial is a ref with possibly empty parts; empty Kind matches both.
type Partial struct {
	Kind   Kind
	ID     string
	Arch   string
	Branch string
}

// ParsePartial parses what a user types: [app/|runtime/]ID[/[ARCH][/BRANCH]].
// defArch and defBranch fill parts left out ("" leaves them open).
func ParsePartial(s string, kind Kind, defArch, defBranch string) (Partial, error) {
	p := Partial{Kind: kind}
	parts := strings.Split(s, "/")
	if len(parts) > 1 && (parts[0] == string(App) || parts[0] == string(Runtime)) {
		if kind != "" && Kind(parts[0]) != kind {
			return p, fmt.Errorf("%w %q: not a %s", ErrInvalid, s, kind)
		}
		p.Kind = Kind(parts[0])
		parts = parts[1:]
	}
	if len(parts) > 3 {
		return p, fmt.Errorf("%w %q: too many components", ErrInvalid, s)
	}
	p.ID = parts[0]
	if err := ValidateID(p.ID); err != nil {
		return p, err
	}
	if len(parts) > 1 {
		p.Arch = parts[1]
	}
	if len(parts) > 2 {
		p.Branch = parts[2]
	}
	if p.Arch == "" {
		p.Arch = defArch
	}
	if p.Branch == "" {
		p.Branch = defBranch
	}
	if p.Arch != "" {
		if err := ValidateArch(p.Arch); err != nil {
			return p, err
		}
	}
	if p.Branch != "" {
		if err := ValidateBranch(p.Branch); err != nil {
			return p, err
		}
	}
	return p, nil
}

// Matches reports whether r fits p.
func (p Partial) Matches(r Ref) bool {
	return (p.Kind == "" || p.Kind == r.Kind) && p.ID == r.ID &&
		(p.Arch == "" || p.Arch == r.Arch) && (p.Branch == "" || p.Branch == r.Branch)
}

// String renders p with empty parts left empty.
func (p Partial) String() string {
	k := string(p.Kind)
	if k == "" {
		return p.ID + "/" + p.Arch + "/" + p.Branch
	}
	return k + "/" + p.ID + "/" + p.Arch + "/" + p.Branch
}

// Match completes p against refs (strings that are not valid refs are
// skipped). Apps win over runtimes; among several matches the native arch is
// preferred; otherwise more than one match is ErrAmbiguous.
func (p Partial) Match(refs []string) (Ref, error) {
	var found []Ref
	for _, s := range refs {
		r, err := Parse(s)
		if err != nil || !p.Matches(r) {
			continue
		}
		found = append(found, r)
	}
	if len(found) == 0 {
		return Ref{}, fmt.Errorf("%w for %s", ErrNoMatch, p.String())
	}
	if len(found) > 1 {
		found = narrow(found, func(r Ref) bool { return r.Kind == App })
		found = narrow(found, func(r Ref) bool { return r.Arch == NativeArch() })
	}
	if len(found) > 1 {
		names := make([]string, len(found))
		for i, r := range found {
			names[i] = r.String()
		}
		return Ref{}, fmt.Errorf("%w %s: %s", ErrAmbiguous, p.String(), strings.Join(names, ", "))
	}
	return found[0], nil
}

func narrow(rs []Ref, keep func(Ref) bool) []Ref {
	var out []Ref
	for _, r := range rs {
		if keep(r) {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return rs
	}
	return out
}
