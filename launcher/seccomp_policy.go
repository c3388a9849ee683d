package launcher

import (
	"errors"

	"golang.org/x/sys/unix"
)

// ErrNoSeccomp is returned by CompileSeccomp in builds without cgo, where
// the libseccomp compiler is not available.
var ErrNoSeccomp = errors.New("seccomp compiler not built (needs cgo and libseccomp)")

// Flatpak 1.14's seccomp policy (setup_seccomp), as data. The default
// action is ALLOW.

// seccompRule denies a syscall with Errno, optionally only when argument
// Arg masked with Mask equals Value (Op "masked-eq") or differs from
// Value (Op "ne").
type seccompRule struct {
	Syscall string
	Errno   unix.Errno
	Op      string // "", "masked-eq", "ne"
	Arg     uint
	Mask    uint64
	Value   uint64
}

var seccompAlways = []seccompRule{
	{Syscall: "syslog", Errno: unix.EPERM},
	{Syscall: "uselib", Errno: unix.EPERM},
	{Syscall: "acct", Errno: unix.EPERM},
	{Syscall: "modify_ldt", Errno: unix.EPERM},
	{Syscall: "quotactl", Errno: unix.EPERM},
	{Syscall: "add_key", Errno: unix.EPERM},
	{Syscall: "keyctl", Errno: unix.EPERM},
	{Syscall: "request_key", Errno: unix.EPERM},
	{Syscall: "move_pages", Errno: unix.EPERM},
	{Syscall: "mbind", Errno: unix.EPERM},
	{Syscall: "get_mempolicy", Errno: unix.EPERM},
	{Syscall: "set_mempolicy", Errno: unix.EPERM},
	{Syscall: "migrate_pages", Errno: unix.EPERM},
	{Syscall: "unshare", Errno: unix.EPERM},
	{Syscall: "setns", Errno: unix.EPERM},
	{Syscall: "mount", Errno: unix.EPERM},
	{Syscall: "umount", Errno: unix.EPERM},
	{Syscall: "umount2", Errno: unix.EPERM},
	{Syscall: "pivot_root", Errno: unix.EPERM},
	{Syscall: "chroot", Errno: unix.EPERM},
	// arg1 on s390/CRIS; this package only builds for linux/amd64-like
	// argument orders (arg0 holds the flags).
	{Syscall: "clone", Errno: unix.EPERM, Op: "masked-eq", Arg: 0, Mask: unix.CLONE_NEWUSER, Value: unix.CLONE_NEWUSER},
	{Syscall: "ioctl", Errno: unix.EPERM, Op: "masked-eq", Arg: 1, Mask: 0xFFFFFFFF, Value: unix.TIOCSTI},
	{Syscall: "ioctl", Errno: unix.EPERM, Op: "masked-eq", Arg: 1, Mask: 0xFFFFFFFF, Value: unix.TIOCLINUX},
	{Syscall: "clone3", Errno: unix.ENOSYS},
	{Syscall: "open_tree", Errno: unix.ENOSYS},
	{Syscall: "move_mount", Errno: unix.ENOSYS},
	{Syscall: "fsopen", Errno: unix.ENOSYS},
	{Syscall: "fsconfig", Errno: unix.ENOSYS},
	{Syscall: "fsmount", Errno: unix.ENOSYS},
	{Syscall: "fspick", Errno: unix.ENOSYS},
	{Syscall: "mount_setattr", Errno: unix.ENOSYS},
}

// perLinux is PER_LINUX, the only personality allowed without devel.
const perLinux = 0

var seccompNonDevel = []seccompRule{
	{Syscall: "perf_event_open", Errno: unix.EPERM},
	{Syscall: "personality", Errno: unix.EPERM, Op: "ne", Arg: 0, Value: perLinux},
	{Syscall: "ptrace", Errno: unix.EPERM},
}

// socketFamilies is Flatpak's allow list in order; Feature names the
// feature a family needs ("" for none).
var socketFamilies = []struct {
	Family  int
	Feature string
}{
	{unix.AF_UNSPEC, ""},
	{unix.AF_UNIX, ""},
	{unix.AF_INET, ""},
	{unix.AF_INET6, ""},
	{unix.AF_NETLINK, ""},
	{unix.AF_CAN, "canbus"},
	{unix.AF_BLUETOOTH, "bluetooth"},
}

// deniedFamilies returns the families denied one by one and the first
// family of the open-ended ">=" rule.
func (s Seccomp) deniedFamilies() (eq []int, ge int) {
	last := -1
	for _, f := range socketFamilies {
		if (f.Feature == "canbus" && !s.Canbus) || (f.Feature == "bluetooth" && !s.Bluetooth) {
			continue
		}
		for d := last + 1; d < f.Family; d++ {
			eq = append(eq, d)
		}
		last = f.Family
	}
	return eq, last + 1
}
