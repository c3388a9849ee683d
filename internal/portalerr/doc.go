// Package portalerr turns the services' Go errors into the D-Bus errors
// their callers see: one mapping, used once at each service's boundary.
//
// Glossary:
//   - sentinel: a package's error value (ErrNotFound …) that names a
//     D-Bus error; errors wrap it with fmt.Errorf("%w: message", …).
//   - message: the error's text without the sentinel's own, as upstream
//     words it ("Not enough permissions"), carried as the error's body.
package portalerr
