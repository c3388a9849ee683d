package portals

import (
	"strings"

	"github.com/porthole-dev/porthole/internal/keyfile"
)

// keyFile reads the key files the frontend uses (*.portal files,
// portals.conf, .flatpak-info, desktop files) with internal/keyfile, which
// parses them as GLib's GKeyFile does, as upstream reads them.
type keyFile struct{ f *keyfile.File }

func parseKeyFile(data []byte) (*keyFile, error) {
	f, err := keyfile.Parse(data)
	if err != nil {
		return nil, err
	}
	return &keyFile{f}, nil
}

func (kf *keyFile) hasGroup(g string) bool { return kf.f.HasGroup(g) }

// str returns the string value of group/key.
func (kf *keyFile) str(group, key string) (string, bool) {
	s, err := kf.f.String(group, key)
	return s, err == nil
}

// list returns a ';'-separated list value; a trailing ';' is optional.
func (kf *keyFile) list(group, key string) ([]string, bool) {
	l, err := kf.f.StringList(group, key)
	return l, err == nil
}

// keys returns the keys of group in file order, without localized ones.
func (kf *keyFile) keys(group string) []string {
	all, _ := kf.f.Keys(group)
	out := all[:0:0]
	for _, k := range all {
		if !strings.Contains(k, "[") {
			out = append(out, k)
		}
	}
	return out
}
