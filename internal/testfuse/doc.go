// Package testfuse mounts a go-fuse file system for the length of one test.
//
// Glossary:
//   - Mount point: a fresh directory (t.TempDir() for Mount, any empty
//     directory for MountAt) where the kernel shows the file system.
//   - Lazy unmount: detaching a mount that is still busy (a file open in
//     it), so teardown never hangs; the kernel drops it when the last user
//     goes away.
package testfuse
