// Package testenv tells tests what the machine can do and runs test steps
// as root and as an unprivileged user.
//
// Glossary:
//   - Require: the one way a test states a precondition. Outside CI an unmet
//     precondition skips the test; with CI=true it fails it, so a CI machine
//     that silently lost a capability cannot pass.
//   - Probe: a cheap check (HaveFUSE, HaveUserNS, HaveDBusDaemon…) whose
//     result is computed once per test binary.
//   - Test user: the dedicated account "porthole-test" (uid and gid 4242,
//     home /home/porthole-test) that root-run tests switch to for the
//     unprivileged half of ForEachUser. make deps and CI create it.
//   - Shared temp dir: a directory outside the 0700 t.TempDir() tree, owned
//     by the user a step runs as, so that user can reach it.
package testenv
