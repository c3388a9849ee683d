package permissions

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Sentinel errors.
var (
	// ErrInvalid reports malformed input: bad characters, a bad key file,
	// "..", "/" as a filesystem.
	ErrInvalid = errors.New("invalid permission")
	// ErrUnknown reports a value Flatpak does not know. Metadata loading
	// skips such values; command-line parsing returns this error.
	ErrUnknown = errors.New("unknown permission")
)

// Key-file groups and keys, as Flatpak names them.
const (
	GroupContext           = "Context"
	GroupSessionBusPolicy  = "Session Bus Policy"
	GroupSystemBusPolicy   = "System Bus Policy"
	GroupEnvironment       = "Environment"
	GroupPolicyPrefix      = "Policy "
	KeyShared              = "shared"
	KeySockets             = "sockets"
	KeyDevices             = "devices"
	KeyFeatures            = "features"
	KeyFilesystems         = "filesystems"
	KeyPersistent          = "persistent"
	KeyUnsetEnvironment    = "unset-environment"
	filesystemHostReset    = "host-reset"
	filesystemHostResetArg = "!host:reset"
)

// Bit names in Flatpak's enum order; bit i is 1<<i.
var (
	ShareNames   = []string{"network", "ipc"}
	SocketNames  = []string{"x11", "wayland", "pulseaudio", "session-bus", "system-bus", "fallback-x11", "ssh-auth", "pcsc", "cups", "gpg-agent"}
	DeviceNames  = []string{"dri", "all", "kvm", "shm"}
	FeatureNames = []string{"devel", "multiarch", "bluetooth", "canbus", "per-app-dev-shm"}
)

// Mode is a filesystem access mode, ordered NONE < ro < rw < create.
type Mode int

// Filesystem modes.
const (
	ModeNone Mode = iota
	ModeReadOnly
	ModeReadWrite
	ModeCreate
)

// Policy is a D-Bus name policy, ordered none < see < talk < own.
type Policy int

// Bus policies.
const (
	PolicyNone Policy = iota
	PolicySee
	PolicyTalk
	PolicyOwn
)

var policyNames = []string{"none", "see", "talk", "own"}

func (p Policy) String() string {
	if p >= 0 && int(p) < len(policyNames) {
		return policyNames[p]
	}
	return "none"
}

// ParsePolicy parses none|see|talk|own.
func ParsePolicy(s string) (Policy, error) {
	for i, n := range policyNames {
		if s == n {
			return Policy(i), nil
		}
	}
	return 0, fmt.Errorf("%w: policy type %s, valid types are: none, see, talk, own", ErrUnknown, s)
}

// Bits is a bit set with a valid mask: a bit in Valid but not in Value is
// an explicit "!name".
type Bits struct{ Value, Valid uint32 }

func (b *Bits) add(m uint32)    { b.Valid |= m; b.Value |= m }
func (b *Bits) remove(m uint32) { b.Valid |= m; b.Value &^= m }
func (b *Bits) merge(o Bits) {
	b.Value &^= o.Valid
	b.Value |= o.Value
	b.Valid |= o.Valid
}

func bitFor(names []string, s string) uint32 {
	for i, n := range names {
		if n == s {
			return 1 << i
		}
	}
	return 0
}

func bitsStrings(b Bits, names []string) []string {
	var out []string
	for i, n := range names {
		m := uint32(1) << i
		if b.Valid&m == 0 {
			continue
		}
		if b.Value&m != 0 {
			out = append(out, n)
		} else {
			out = append(out, "!"+n)
		}
	}
	return out
}

// Context is one layer of permissions. Use New to create one.
type Context struct {
	Shares, Sockets, Devices, Features Bits
	// Filesystems maps a token (host, home, ~/p, /p, xdg-…, host-reset)
	// to its mode; ModeNone is a negation.
	Filesystems *Table[Mode]
	Persistent  *Table[struct{}]
	// Env maps a variable to its value; nil means unset.
	Env        *Table[*string]
	SessionBus *Table[Policy]
	SystemBus  *Table[Policy]
	// Generic maps "SUBSYSTEM.KEY" to values, "!v" removing v.
	Generic *Table[[]string]
}

// New returns an empty Context.
func New() *Context {
	return &Context{
		Filesystems: newTable[Mode](),
		Persistent:  newTable[struct{}](),
		Env:         newTable[*string](),
		SessionBus:  newTable[Policy](),
		SystemBus:   newTable[Policy](),
		Generic:     newTable[[]string](),
	}
}

// Clone returns a deep copy.
func (c *Context) Clone() *Context {
	n := *c
	n.Filesystems = c.Filesystems.Clone()
	n.Persistent = c.Persistent.Clone()
	n.Env = c.Env.Clone()
	n.SessionBus = c.SessionBus.Clone()
	n.SystemBus = c.SystemBus.Clone()
	n.Generic = c.Generic.Clone()
	return &n
}

// Has reports whether a named bit is granted in the (merged) context:
// kind is one of "shared", "sockets", "devices", "features".
func (c *Context) Has(kind, name string) bool {
	switch kind {
	case KeyShared:
		return c.Shares.Value&bitFor(ShareNames, name) != 0
	case KeySockets:
		return c.Sockets.Value&bitFor(SocketNames, name) != 0
	case KeyDevices:
		return c.Devices.Value&bitFor(DeviceNames, name) != 0
	case KeyFeatures:
		return c.Features.Value&bitFor(FeatureNames, name) != 0
	}
	return false
}

// Merge applies other on top of c, as flatpak_context_merge.
func (c *Context) Merge(other *Context) {
	c.Shares.merge(other.Shares)
	c.Sockets.merge(other.Sockets)
	c.Devices.merge(other.Devices)
	c.Features.merge(other.Features)
	other.Env.Range(func(k string, v *string) { c.Env.Set(k, v) })
	other.Persistent.Range(func(k string, v struct{}) { c.Persistent.Set(k, v) })
	if _, ok := other.Filesystems.Get(filesystemHostReset); ok {
		c.Filesystems.Clear()
	}
	other.Filesystems.Range(func(k string, m Mode) { c.Filesystems.Set(k, m) })
	other.SessionBus.Range(func(k string, p Policy) { c.SessionBus.Set(k, p) })
	other.SystemBus.Range(func(k string, p Policy) { c.SystemBus.Set(k, p) })
	other.Generic.Range(func(k string, vs []string) {
		for _, v := range vs {
			c.applyGeneric(k, v)
		}
	})
}

// ResetPermissions keeps only the environment, as Flatpak does with the
// runtime's metadata before the app's is merged.
func (c *Context) ResetPermissions() {
	env := c.Env
	*c = *New()
	c.Env = env
}

// Sandbox strips everything but features=multiarch (flatpak run --sandbox).
func (c *Context) Sandbox() {
	multi := bitFor(FeatureNames, "multiarch")
	f := Bits{Value: c.Features.Value & multi, Valid: c.Features.Valid & multi}
	env := c.Env
	*c = *New()
	c.Features = f
	c.Env = env
}

func (c *Context) applyGeneric(key, value string) {
	old, _ := c.Generic.Get(key)
	var out []string
	bare := strings.TrimPrefix(value, "!")
	for _, o := range old {
		if strings.TrimPrefix(o, "!") != bare {
			out = append(out, o)
		}
	}
	c.Generic.Set(key, append(out, value))
}

func (c *Context) takeFilesystem(fs string, m Mode) {
	if fs == filesystemHostReset {
		c.Filesystems.Set("host", ModeNone)
	}
	c.Filesystems.Set(fs, m)
}

// GenericPolicy returns the effective values of a [Policy SUB] key, with
// negated values dropped.
func (c *Context) GenericPolicy(key string) []string {
	vs, _ := c.Generic.Get(key)
	var out []string
	for _, v := range vs {
		if !strings.HasPrefix(v, "!") {
			out = append(out, v)
		}
	}
	return out
}

// ValidatePathCharacters rejects non-UTF-8 and non-graphical characters
// (other than space), as flatpak_validate_path_characters.
func ValidatePathCharacters(p string) error {
	for i := 0; i < len(p); {
		r, n := utf8.DecodeRuneInString(p[i:])
		if r == utf8.RuneError && n <= 1 {
			return fmt.Errorf("%w: non-UTF8 byte \\x%02X in path %q", ErrInvalid, p[i], p)
		}
		if r != ' ' && !(unicode.IsGraphic(r) && !unicode.IsSpace(r)) {
			return fmt.Errorf("%w: non-graphical character %U in path %q", ErrInvalid, r, p)
		}
		i += n
	}
	return nil
}

// ValidateBusName checks a well-known D-Bus name, optionally ending in
// ".*"; unique names are refused.
func ValidateBusName(name string) error {
	part := strings.TrimSuffix(name, ".*")
	if !isDBusName(part) || strings.HasPrefix(part, ":") {
		return fmt.Errorf("%w: dbus name %s", ErrInvalid, name)
	}
	return nil
}

func isDBusName(s string) bool {
	if len(s) == 0 || len(s) > 255 || s[0] == '.' {
		return false
	}
	elems := strings.Split(s, ".")
	if len(elems) < 2 {
		return false
	}
	for _, e := range elems {
		if e == "" || (e[0] >= '0' && e[0] <= '9') {
			return false
		}
		for _, r := range e {
			if !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
				return false
			}
		}
	}
	return true
}
