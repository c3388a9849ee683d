package launcher

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// ErrInvalidSpec reports a Spec that Validate refuses.
var ErrInvalidSpec = errors.New("invalid sandbox spec")

// MountType is the kind of one mount operation, named after bwrap's
// options.
type MountType string

// Mount operations, applied in order.
const (
	// Bind binds Source read-write (nosuid, nodev).
	Bind MountType = "bind"
	// ROBind binds Source read-only, recursively (nosuid, nodev).
	ROBind MountType = "ro-bind"
	// DevBind binds Source read-write keeping device nodes usable.
	DevBind MountType = "dev-bind"
	// Tmpfs mounts an empty tmpfs with permissions Mode (default 0755).
	Tmpfs MountType = "tmpfs"
	// Dir creates a directory with permissions Mode (default 0755).
	Dir MountType = "dir"
	// Symlink creates Dest pointing at Source.
	Symlink MountType = "symlink"
	// File writes Data to Dest with permissions Mode (default 0644);
	// with ReadOnly the file is then bound read-only over itself.
	File MountType = "file"
	// Proc mounts a procfs for the new pid namespace.
	Proc MountType = "proc"
	// Dev builds a minimal /dev: null zero full random urandom tty from
	// the host, a new devpts, shm, and the standard links.
	Dev MountType = "dev"
	// RemountRO remounts Dest read-only.
	RemountRO MountType = "remount-ro"
)

// Mount is one operation building the sandbox root. Paths in Dest are
// inside the sandbox; Source is a host path (or a link target).
type Mount struct {
	Type     MountType `json:"type"`
	Source   string    `json:"source,omitempty"`
	Dest     string    `json:"dest"`
	Data     []byte    `json:"data,omitempty"`
	Mode     uint32    `json:"mode,omitempty"`
	ReadOnly bool      `json:"readOnly,omitempty"`
	// Optional skips a bind whose source is missing (bwrap's -try).
	Optional bool `json:"optional,omitempty"`
}

// Seccomp selects the variant of Flatpak's filter.
type Seccomp struct {
	// Disabled loads no filter (tests and debugging only).
	Disabled  bool `json:"disabled,omitempty"`
	Devel     bool `json:"devel,omitempty"`
	Multiarch bool `json:"multiarch,omitempty"`
	Bluetooth bool `json:"bluetooth,omitempty"`
	Canbus    bool `json:"canbus,omitempty"`
	// Arch is the app's arch as Flatpak names it (x86_64, i386, aarch64,
	// arm); empty means native.
	Arch string `json:"arch,omitempty"`
}

// Spec describes one sandbox. It is plain data.
type Spec struct {
	// Args is the command; Args[0] is looked up in the sandbox's PATH.
	Args []string `json:"args"`
	Env  []string `json:"env"`
	// Cwd is the working directory inside the sandbox; empty means the
	// caller's if visible, else $HOME, else /.
	Cwd string `json:"cwd,omitempty"`
	// UID and GID are the caller's ids; the user namespace maps each to
	// itself.
	UID int `json:"uid"`
	GID int `json:"gid"`
	// ShareNet and ShareIPC keep the host's network and IPC namespaces.
	ShareNet bool    `json:"shareNet,omitempty"`
	ShareIPC bool    `json:"shareIPC,omitempty"`
	Mounts   []Mount `json:"mounts"`
	Seccomp  Seccomp `json:"seccomp"`
	// InstanceDir, when set, is a host directory where pid 1 listens on
	// "enter.sock" for `porthole enter`.
	InstanceDir string `json:"instanceDir,omitempty"`
	// BusProxies are D-Bus proxies pid 1 serves inside the sandbox.
	BusProxies []BusProxy `json:"busProxies,omitempty"`
	// DieWithParent kills the sandbox when the launching process dies.
	DieWithParent bool `json:"dieWithParent,omitempty"`
}

// Validate checks the Spec.
func (s *Spec) Validate() error {
	if len(s.Args) == 0 || s.Args[0] == "" {
		return fmt.Errorf("%w: no command", ErrInvalidSpec)
	}
	if s.UID < 0 || s.GID < 0 {
		return fmt.Errorf("%w: negative uid or gid", ErrInvalidSpec)
	}
	hasProc := false
	for i, m := range s.Mounts {
		if !path.IsAbs(m.Dest) || path.Clean(m.Dest) != m.Dest || strings.Contains(m.Dest, "\x00") {
			return fmt.Errorf("%w: mount %d: destination %q is not a clean absolute path", ErrInvalidSpec, i, m.Dest)
		}
		switch m.Type {
		case Bind, ROBind, DevBind:
			if !path.IsAbs(m.Source) {
				return fmt.Errorf("%w: mount %d: source %q is not absolute", ErrInvalidSpec, i, m.Source)
			}
			if m.Dest == "/" {
				return fmt.Errorf("%w: mount %d: cannot bind over /", ErrInvalidSpec, i)
			}
		case Symlink:
			if m.Source == "" {
				return fmt.Errorf("%w: mount %d: empty symlink target", ErrInvalidSpec, i)
			}
		case Proc:
			hasProc = m.Dest == "/proc" || hasProc
		case Tmpfs, Dir, File, Dev, RemountRO:
		default:
			return fmt.Errorf("%w: mount %d: unknown type %q", ErrInvalidSpec, i, m.Type)
		}
		if m.Mode > 0o7777 {
			return fmt.Errorf("%w: mount %d: bad mode %o", ErrInvalidSpec, i, m.Mode)
		}
	}
	if !hasProc {
		return fmt.Errorf("%w: a proc mount on /proc is required", ErrInvalidSpec)
	}
	for i, bp := range s.BusProxies {
		if !path.IsAbs(bp.Dest) || path.Clean(bp.Dest) != bp.Dest || !path.IsAbs(bp.Socket) {
			return fmt.Errorf("%w: bus proxy %d: paths must be absolute and clean", ErrInvalidSpec, i)
		}
	}
	for _, e := range s.Env {
		if !strings.Contains(e, "=") {
			return fmt.Errorf("%w: environment entry %q has no '='", ErrInvalidSpec, e)
		}
	}
	return nil
}
