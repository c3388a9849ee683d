package runspec

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/porthole-dev/porthole/launcher"
)

// Extension is an installed extension to mount, in priority order
// (highest first) within the app's or the runtime's list.
type Extension struct {
	// ID is the installed extension's id; Commit its deployed commit
	// ("" for an unmaintained one: "local" in /.flatpak-info).
	ID, Commit string
	// Files is the host directory mounted at TARGET/Dir/SubdirSuffix
	// (TARGET: /app or /usr).
	Files, Dir, SubdirSuffix string
	AddLdPath                string
	MergeDirs                []string
	// NeedsTmpfs puts a tmpfs on the parent of TARGET/Dir first.
	NeedsTmpfs bool
}

// extensions mounts exts under target as Flatpak 1.14 does: binds in
// directory order (parents first), then in priority order the
// add-ld-path entries (an ld.so.conf.d file each with a generated
// ld.so.cache, else LD_LIBRARY_PATH) and merge-dirs links. It returns
// the ID=COMMIT list for /.flatpak-info and the library path.
func (b *builder) extensions(kind, target string, exts []Extension, useCache bool) (used, ldPath string) {
	byDir := append([]Extension(nil), exts...)
	sort.SliceStable(byDir, func(i, j int) bool { return byDir[i].Dir < byDir[j].Dir })
	tmpfs := map[string]bool{}
	for _, e := range byDir {
		dir := path.Join(target, e.Dir)
		if e.NeedsTmpfs && !tmpfs[path.Dir(dir)] {
			tmpfs[path.Dir(dir)] = true
			b.add(launcher.Mount{Type: launcher.Tmpfs, Dest: path.Dir(dir)})
		}
		b.add(launcher.Mount{Type: launcher.ROBind, Source: e.Files, Dest: path.Join(dir, e.SubdirSuffix)})
	}
	var list, ld []string
	links := map[string]bool{}
	count := 0
	for _, e := range exts {
		commit := e.Commit
		if commit == "" {
			commit = "local"
		}
		list = append(list, e.ID+"="+commit)
		dir := path.Join(target, e.Dir)
		if e.AddLdPath != "" {
			p := path.Join(dir, e.SubdirSuffix, e.AddLdPath)
			if useCache {
				count++
				b.add(launcher.Mount{Type: launcher.File, ReadOnly: true, Data: []byte(p + "\n"),
					Dest: fmt.Sprintf("/run/flatpak/ld.so.conf.d/%s-%03d-%s.conf", kind, count, e.ID)})
			} else {
				ld = append(ld, p)
			}
		}
		for _, m := range e.MergeDirs {
			ents, err := os.ReadDir(filepath.Join(e.Files, m))
			if err != nil {
				continue
			}
			for _, ent := range ents {
				link := path.Join(path.Dir(dir), m, ent.Name())
				if links[link] {
					continue // the first extension, by priority, wins
				}
				links[link] = true
				b.add(launcher.Mount{Type: launcher.Symlink, Source: path.Join(dir, m, ent.Name()), Dest: link})
			}
		}
	}
	return strings.Join(list, ";"), strings.Join(ld, ":")
}
