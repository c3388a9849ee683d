// Package flatpakref reads and writes .flatpakrepo and .flatpakref files,
// the small key files that describe a remote repository and one app or
// runtime in it, as Flatpak 1.14 accepts them.
//
// Glossary:
//   - .flatpakrepo: [Flatpak Repo] group: Url (required), GPGKey (base64 of a
//     binary public key), Title, DefaultBranch, …
//   - .flatpakref: [Flatpak Ref] group: Name and Url (required), Branch
//     (default master), IsRuntime, GPGKey, RuntimeRepo (URL of the
//     .flatpakrepo of the runtime's repository), SuggestRemoteName, Title, …
package flatpakref
