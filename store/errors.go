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
