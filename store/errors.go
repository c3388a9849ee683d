package store

import (
	"errors"
	"fmt"

	"github.com/porthole-dev/porthole/store/object"
)

// Sentinel errors; test with errors.Is.
var (
	// ErrObjectNotFound: the object is not in the repository.
	ErrObjectNotFound = errors.New("object not found")
	// ErrRefNotFound: no ref, commit or unique prefix matches.
	ErrRefNotFound = errors.New("ref not found")
	// ErrCorrupt: stored or received data does not match its checksum or
	// is malformed. Errors about malformed objects also wrap
	// object.ErrInvalid.
	ErrCorrupt = errors.New("corrupt object")
	// ErrLocked: the repository lock could not be taken in time.
	ErrLocked = errors.New("repository locked")
	// ErrUnsupported: the operation is not possible in this repo mode
	// (e.g. bare mode without root, or a symlink escape on checkout).
	ErrUnsupported = errors.New("not supported")
)

// InvalidModeError reports a regular-file content object whose mode has
// bits a bare-user-only repository cannot store (setuid, setgid, sticky,
// world-writable: anything outside 0775), as ostree refuses it. It
// unwraps to ErrUnsupported.
type InvalidModeError struct {
	Object *object.Checksum // nil when the checksum is not known yet
	Mode   uint32
}

func (e *InvalidModeError) Error() string {
	name := ""
	if e.Object != nil {
		name = " " + e.Object.String()
	}
	return fmt.Sprintf("content object%s: invalid mode 0%04o with bits 0%04o in a bare-user-only repository", name, e.Mode, e.Mode&^(object.ModeTypeMask|0o775))
}

func (e *InvalidModeError) Unwrap() error { return ErrUnsupported }

// ChecksumMismatchError reports data whose checksum differs from the one
// expected. It unwraps to ErrCorrupt.
type ChecksumMismatchError struct {
	Object object.ObjectName // the expected name
	Got    object.Checksum
}

func (e *ChecksumMismatchError) Error() string {
	return fmt.Sprintf("corrupt object %s: checksum is %s", e.Object, e.Got)
}

func (e *ChecksumMismatchError) Unwrap() error { return ErrCorrupt }

// corruptError marks a parse failure of stored data as corruption while
// keeping object.ErrInvalid reachable.
type corruptError struct {
	name object.ObjectName
	err  error
}

func (e *corruptError) Error() string { return fmt.Sprintf("corrupt object %s: %v", e.name, e.err) }

func (e *corruptError) Unwrap() []error { return []error{ErrCorrupt, e.err} }
