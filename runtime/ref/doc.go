// Package ref parses and validates Flatpak refs: KIND/ID/ARCH/BRANCH names of
// apps and runtimes in a repository or installation, and the partial forms
// users type (ID, ID//BRANCH, ID/ARCH, app/ID, …).
//
// Glossary:
//   - Ref: "app/ID/ARCH/BRANCH" or "runtime/ID/ARCH/BRANCH".
//   - ID: a reverse-DNS application or runtime name of at least three
//     dot-separated elements.
//   - Partial ref: a ref with parts missing or empty; Match completes it
//     against a list of refs.
//   - Runtime pref: "ID/ARCH/BRANCH" as written in metadata (runtime=, sdk=).
package ref
