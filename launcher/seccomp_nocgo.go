//go:build !cgo

package launcher

// CompileSeccomp needs cgo and libseccomp; this build has neither.
func CompileSeccomp(s Seccomp) ([]byte, error) { return nil, ErrNoSeccomp }
