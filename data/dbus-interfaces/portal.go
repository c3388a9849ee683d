// Package dbusinterfaces holds the D-Bus interface descriptions of the
// portal frontend (org.freedesktop.portal.*, org.freedesktop.host.portal.*);
// porthole-portal serves them for introspection and tests compare against
// them.
package dbusinterfaces

import "embed"

// Portal holds org.freedesktop.portal.*.xml and org.freedesktop.host.portal.*.xml.
//
//go:embed org.freedesktop.portal.*.xml org.freedesktop.host.portal.*.xml
var Portal embed.FS
