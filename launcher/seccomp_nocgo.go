//go:build !cgo

package launcher

// CompileSeccomp needs cgo and libseccomp; this build has neither.
func CompileSeccomp(s Seccomp) ([]byte, error) { return nil, ErrNoSeccomp }

// haveCgo tells whether syscall.AllThreadsSyscall can work (it returns
// ENOTSUP in cgo binaries).
const haveCgo = false
