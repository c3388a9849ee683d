package metadata

import (
	"errors"
	"fmt"
	"strings"

	"github.com/porthole-dev/porthole/runtime/permissions"
	"github.com/porthole-dev/porthole/runtime/ref"
)

// Group names.
const (
	GroupApplication = "Application"
	GroupRuntime     = "Runtime"
	GroupExtensionOf = "ExtensionOf"
)

// ErrInvalid reports a metadata file Flatpak would refuse.
var ErrInvalid = errors.New("invalid metadata")

// Metadata is a parsed metadata key file. Edits keep GKeyFile's order, so
// Bytes gives what Flatpak would write after the same edits.
type Metadata struct {
	kf *permissions.KeyFile
}

// Parse parses metadata bytes; it needs [Application] or [Runtime] with name=.
func Parse(data []byte) (*Metadata, error) {
	kf, err := permissions.ParseKeyFile(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	m := &Metadata{kf: kf}
	if m.Group() == "" {
		return nil, fmt.Errorf("%w: no [Application] or [Runtime] group", ErrInvalid)
	}
	if m.Name() == "" {
		return nil, fmt.Errorf("%w: no name", ErrInvalid)
	}
	return m, nil
}

// New returns what build-init writes: the main group with name, runtime and
// sdk (sdk omitted when empty). runtimePref and sdkPref are ID/ARCH/BRANCH.
func New(kind ref.Kind, name, runtimePref, sdkPref string) *Metadata {
	kf, _ := permissions.ParseKeyFile(nil)
	g := GroupApplication
	if kind == ref.Runtime {
		g = GroupRuntime
	}
	kf.SetString(g, "name", name)
	if runtimePref != "" {
		kf.SetString(g, "runtime", runtimePref)
	}
	if sdkPref != "" {
		kf.SetString(g, "sdk", sdkPref)
	}
	return &Metadata{kf: kf}
}

// KeyFile exposes the underlying key file for groups this package does not
// model.
func (m *Metadata) KeyFile() *permissions.KeyFile { return m.kf }

// Group returns the main group name, "" if none.
func (m *Metadata) Group() string {
	switch {
	case m.kf.HasGroup(GroupApplication):
		return GroupApplication
	case m.kf.HasGroup(GroupRuntime):
		return GroupRuntime
	}
	return ""
}

// Kind is App for [Application], else Runtime.
func (m *Metadata) Kind() ref.Kind {
	if m.Group() == GroupApplication {
		return ref.App
	}
	return ref.Runtime
}

func (m *Metadata) get(key string) string {
	s, _ := m.kf.String(m.Group(), key)
	return s
}

// Name is name=.
func (m *Metadata) Name() string { return m.get("name") }

// Runtime is runtime= (ID/ARCH/BRANCH).
func (m *Metadata) Runtime() string { return m.get("runtime") }

// SDK is sdk=.
func (m *Metadata) SDK() string { return m.get("sdk") }

// Command is command=.
func (m *Metadata) Command() string { return m.get("command") }

// RequiredFlatpak is required-flatpak=.
func (m *Metadata) RequiredFlatpak() string { return m.get("required-flatpak") }

// ExtensionOf is [ExtensionOf] ref=.
func (m *Metadata) ExtensionOf() string {
	s, _ := m.kf.String(GroupExtensionOf, "ref")
	return s
}

// Set sets a key of the main group.
func (m *Metadata) Set(key, value string) { m.kf.SetString(m.Group(), key, value) }

// Context parses the permission groups.
func (m *Metadata) Context() (*permissions.Context, error) {
	c := permissions.New()
	if err := c.LoadMetadata(m.kf); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return c, nil
}

// AddContext merges extra into the file's permissions and writes them back
// (build-finish's --share/--socket/… options).
func (m *Metadata) AddContext(extra *permissions.Context) error {
	c, err := m.Context()
	if err != nil {
		return err
	}
	c.Merge(extra)
	c.Save(m.kf, false)
	return nil
}

// Bytes renders the file as GKeyFile does.
func (m *Metadata) Bytes() []byte { return m.kf.Bytes() }

// RuntimeRef returns the runtime this app needs as a full ref.
func (m *Metadata) RuntimeRef() (ref.Ref, error) {
	return ref.ParsePref(ref.Runtime, m.Runtime())
}

// Extensions lists the names of [Extension NAME] groups.
func (m *Metadata) Extensions() []string {
	var out []string
	for _, g := range m.kf.Groups() {
		if n, ok := strings.CutPrefix(g, "Extension "); ok {
			out = append(out, n)
		}
	}
	return out
}
