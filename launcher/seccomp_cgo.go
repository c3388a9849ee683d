//go:build cgo

package launcher

import (
	"fmt"
	"io"
	"os"

	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// haveCgo tells whether syscall.AllThreadsSyscall can work (it returns
// ENOTSUP in cgo binaries).
const haveCgo = true

// CompileSeccomp compiles Flatpak's filter for s into a BPF program
// (struct sock_filter array). It runs in the parent: the init stages are
// pure Go and only load the result.
func CompileSeccomp(s Seccomp) ([]byte, error) {
	f, err := libseccomp.NewFilter(libseccomp.ActAllow)
	if err != nil {
		return nil, fmt.Errorf("creating seccomp filter: %w", err)
	}
	defer f.Release()
	// The exec stage sets no_new_privs itself; the exported program must
	// not depend on libseccomp's loader.
	if err := f.SetNoNewPrivsBit(false); err != nil {
		return nil, fmt.Errorf("creating seccomp filter: %w", err)
	}
	var arches []libseccomp.ScmpArch
	switch s.Arch {
	case "i386":
		arches = []libseccomp.ScmpArch{libseccomp.ArchX86}
	case "x86_64":
		arches = []libseccomp.ScmpArch{libseccomp.ArchAMD64}
		if s.Multiarch {
			arches = append(arches, libseccomp.ArchX86)
		}
	case "arm":
		arches = []libseccomp.ScmpArch{libseccomp.ArchARM}
	case "aarch64":
		arches = []libseccomp.ScmpArch{libseccomp.ArchARM64}
		if s.Multiarch {
			arches = append(arches, libseccomp.ArchARM)
		}
	}
	for _, a := range arches {
		if err := f.AddArch(a); err != nil {
			if present, perr := f.IsArchPresent(a); perr == nil && present {
				continue
			}
			return nil, fmt.Errorf("adding arch %v to seccomp filter: %w", a, err)
		}
	}
	rules := seccompAlways
	if !s.Devel {
		rules = append(append([]seccompRule(nil), rules...), seccompNonDevel...)
	}
	for _, r := range rules {
		call, err := libseccomp.GetSyscallFromName(r.Syscall)
		if err != nil {
			continue // not known to libseccomp: Flatpak skips it too
		}
		act := libseccomp.ActErrno.SetReturnCode(int16(r.Errno))
		switch r.Op {
		case "":
			err = f.AddRule(call, act)
		case "masked-eq":
			var c libseccomp.ScmpCondition
			// The mask comes first (it maps to datum_a).
			c, err = libseccomp.MakeCondition(r.Arg, libseccomp.CompareMaskedEqual, r.Mask, r.Value)
			if err == nil {
				err = f.AddRuleConditional(call, act, []libseccomp.ScmpCondition{c})
			}
		case "ne":
			var c libseccomp.ScmpCondition
			c, err = libseccomp.MakeCondition(r.Arg, libseccomp.CompareNotEqual, r.Value)
			if err == nil {
				err = f.AddRuleConditional(call, act, []libseccomp.ScmpCondition{c})
			}
		}
		if err != nil {
			return nil, fmt.Errorf("adding seccomp rule for %s: %w", r.Syscall, err)
		}
	}
	socket, err := libseccomp.GetSyscallFromName("socket")
	if err != nil {
		return nil, fmt.Errorf("seccomp: %w", err)
	}
	afno := libseccomp.ActErrno.SetReturnCode(int16(unix.EAFNOSUPPORT))
	eq, ge := s.deniedFamilies()
	// Errors are ignored, as Flatpak ignores them (with multiarch on
	// x86_64 the exact rule fails for socketcall, leaving no filtering).
	for _, fam := range eq {
		if c, err := libseccomp.MakeCondition(0, libseccomp.CompareEqual, uint64(fam)); err == nil {
			_ = f.AddRuleConditionalExact(socket, afno, []libseccomp.ScmpCondition{c})
		}
	}
	if c, err := libseccomp.MakeCondition(0, libseccomp.CompareGreaterEqual, uint64(ge)); err == nil {
		_ = f.AddRuleConditionalExact(socket, afno, []libseccomp.ScmpCondition{c})
	}

	fd, err := unix.MemfdCreate("porthole-seccomp", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("exporting seccomp filter: %w", err)
	}
	mf := os.NewFile(uintptr(fd), "seccomp")
	defer mf.Close()
	if err := f.ExportBPF(mf); err != nil {
		return nil, fmt.Errorf("exporting seccomp filter: %w", err)
	}
	if _, err := mf.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("exporting seccomp filter: %w", err)
	}
	return io.ReadAll(mf)
}
