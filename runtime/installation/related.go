package installation

import (
	"os"
	"slices"
	"strings"

	"github.com/porthole-dev/porthole/runtime/metadata"
	"github.com/porthole-dev/porthole/runtime/ref"
)

// Related is an extension ref a metadata's [Extension NAME] group names
// (Flatpak's "related refs", such as ID.Locale and ID.Debug).
type Related struct {
	Ref ref.Ref
	// Download: installed with the parent (no no-autodownload, and any
	// download-if condition holds).
	Download bool
	// Delete: uninstalled with the parent (autodelete, or a subdirectories
	// extension).
	Delete bool
}

// RelatedRefs lists the extension refs the metadata of parent names that
// exist among available (full ref strings, e.g. a remote's refs or the
// installed ones), as Flatpak resolves them: branch from version/versions
// or the parent's, every ref NAME.* for subdirectories=true.
func RelatedRefs(md *metadata.Metadata, parent ref.Ref, available []string) []Related {
	if md == nil {
		return nil
	}
	kf := md.KeyFile()
	var out []Related
	seen := map[string]bool{}
	for _, name := range md.Extensions() {
		g := "Extension " + name
		branches := []string{parent.Branch}
		if v, ok := kf.StringList(g, "versions"); ok && len(v) > 0 {
			branches = v
		} else if v, ok := kf.String(g, "version"); ok && v != "" {
			branches = []string{v}
		}
		noAuto, _ := kf.String(g, "no-autodownload")
		subdirs, _ := kf.String(g, "subdirectories")
		autodel, _ := kf.String(g, "autodelete")
		conds, _ := kf.StringList(g, "download-if")
		download := noAuto != "true" && downloadIf(conds)
		for _, a := range available {
			r, err := ref.Parse(a)
			if err != nil || r.Kind != ref.Runtime || r.Arch != parent.Arch || !slices.Contains(branches, r.Branch) {
				continue
			}
			match := r.ID == name
			if subdirs == "true" {
				match = strings.HasPrefix(r.ID, name+".")
			}
			if !match || seen[a] || r == parent {
				continue
			}
			seen[a] = true
			out = append(out, Related{Ref: r, Download: download, Delete: autodel == "true" || subdirs == "true"})
		}
	}
	slices.SortFunc(out, func(a, b Related) int { return strings.Compare(a.Ref.String(), b.Ref.String()) })
	return out
}

// downloadIf evaluates download-if conditions (all must hold). Unknown
// ones, and active-gl-driver (no GL driver detection here), do not.
func downloadIf(conds []string) bool {
	for _, c := range conds {
		if !condition(c) {
			return false
		}
	}
	return true
}

func condition(c string) bool {
	switch {
	case c == "have-intel-gpu":
		_, err := os.Stat("/sys/module/i915")
		return err == nil
	case strings.HasPrefix(c, "have-kernel-module-"):
		_, err := os.Stat("/sys/module/" + strings.TrimPrefix(c, "have-kernel-module-"))
		return err == nil
	case strings.HasPrefix(c, "on-xdg-desktop-"):
		want := strings.ToLower(strings.TrimPrefix(c, "on-xdg-desktop-"))
		for _, d := range strings.Split(os.Getenv("XDG_CURRENT_DESKTOP"), ":") {
			if strings.ToLower(d) == want {
				return true
			}
		}
	}
	return false
}

// InstalledRelated lists the installed extensions of an installed ref
// that are uninstalled with it.
func (i *Installation) InstalledRelated(d *Deployment) []ref.Ref {
	ds, err := i.List(ref.Runtime)
	if err != nil {
		return nil
	}
	names := make([]string, len(ds))
	for k, x := range ds {
		names[k] = x.Ref.String()
	}
	var out []ref.Ref
	for _, rel := range RelatedRefs(d.Metadata, d.Ref, names) {
		if rel.Delete {
			out = append(out, rel.Ref)
		}
	}
	return out
}
