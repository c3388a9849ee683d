package installation

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/porthole-dev/porthole/runtime/metadata"
	"github.com/porthole-dev/porthole/runtime/permissions"
	"github.com/porthole-dev/porthole/runtime/ref"
)

// The queries of this file read installation directories only (no
// repository), for `porthole run`, which must start fast.

// Deployed is an active (or chosen) deployment found by FindDeployed.
type Deployed struct {
	Ref          ref.Ref
	Commit       string
	Dir          string // the commit directory
	Installation string // the installation directory
}

// Files is the deployment's files directory.
func (d *Deployed) Files() string { return filepath.Join(d.Dir, "files") }

// MetadataBytes reads the deployment's metadata file.
func (d *Deployed) MetadataBytes() ([]byte, error) {
	data, err := os.ReadFile(filepath.Join(d.Dir, "metadata"))
	if err != nil {
		return nil, fmt.Errorf("reading metadata of %s: %w", d.Ref, err)
	}
	return data, nil
}

// FindDeployed looks a ref up in the installation directories, in order
// (Flatpak's: the user's, then the system ones). An empty arch is the
// native one; an empty branch is an app's current branch, else the only
// deployed one. An empty commit is the active deployment; otherwise that
// commit must be deployed (run --commit).
func FindDeployed(dirs []string, kind ref.Kind, id, arch, branch, commit string) (*Deployed, error) {
	if arch == "" {
		arch = ref.NativeArch()
	}
	for _, inst := range dirs {
		if inst == "" {
			continue
		}
		base := filepath.Join(inst, string(kind), id)
		b := branch
		if b == "" {
			b = defaultBranch(base, arch)
		}
		if b == "" {
			continue
		}
		r := ref.Ref{Kind: kind, ID: id, Arch: arch, Branch: b}
		if r.Validate() != nil {
			continue
		}
		dir := filepath.Join(base, arch, b)
		c := commit
		if c == "" {
			active, err := os.Readlink(filepath.Join(dir, "active"))
			if err != nil {
				continue
			}
			c = filepath.Base(active)
		}
		cdir := filepath.Join(dir, c)
		if _, err := os.Stat(filepath.Join(cdir, "files")); err != nil {
			continue
		}
		return &Deployed{Ref: r, Commit: c, Dir: cdir, Installation: inst}, nil
	}
	s := fmt.Sprintf("%s/%s/%s/%s", kind, id, arch, branch)
	if commit != "" {
		s += " commit " + commit
	}
	return nil, fmt.Errorf("%s: %w", s, ErrNotInstalled)
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

func defaultBranch(base, arch string) string {
	if cur, err := os.Readlink(filepath.Join(base, "current")); err == nil {
		if a, b, ok := strings.Cut(cur, "/"); ok && a == arch {
			return b
		}
	}
	ents, err := os.ReadDir(filepath.Join(base, arch))
	if err != nil {
		return ""
	}
	var only string
	for _, e := range ents {
		if e.IsDir() && exists(filepath.Join(base, arch, e.Name(), "active")) {
			if only != "" {
				return ""
			}
			only = e.Name()
		}
	}
	return only
}

// Extension is one [Extension NAME] point of a metadata file resolved to
// an installed extension, as Flatpak 1.14 resolves them at run time.
type Extension struct {
	// Point is the extension point's name (NAME without an @tag);
	// InstalledID the id of the ref mounted (NAME, or NAME.SUB for
	// subdirectories).
	Point, InstalledID string
	Ref                ref.Ref
	// Directory is where it goes, relative to /usr or /app (with the
	// subdirectory's name for subdirectories); SubdirSuffix is
	// appended to it for the mount point.
	Directory, SubdirSuffix string
	// Files is the host directory mounted.
	Files string
	// Commit is the deployed commit, "" for an unmaintained extension
	// (installation/extension/NAME/ARCH/BRANCH).
	Commit    string
	AddLdPath string
	MergeDirs []string
	// NeedsTmpfs: a tmpfs goes on the parent of the mount point first
	// (subdirectory extensions).
	NeedsTmpfs   bool
	Unmaintained bool
	// Priority is [ExtensionOf] priority of the extension's metadata
	// (1000 for unmaintained ones); higher first.
	Priority int
}

// ListExtensions resolves the extension points of md (the metadata of a
// ref of arch and branch) against the installation directories dirs
// (user first): each point's version(s) or the parent's branch; the
// extension NAME itself if deployed (or unmaintained), else with
// subdirectories=true every deployed NAME.*; points whose enable-if
// does not hold are skipped. The result is sorted by priority, highest
// first, otherwise in metadata order.
func ListExtensions(dirs []string, md *metadata.Metadata, arch, branch string) []Extension {
	if md == nil {
		return nil
	}
	kf := md.KeyFile()
	var out []Extension
	for _, point := range md.Extensions() {
		g := "Extension " + point
		name, _, _ := strings.Cut(point, "@")
		if name == "" {
			continue
		}
		branches := []string{branch}
		if v, ok := kf.StringList(g, "versions"); ok {
			branches = v
		} else if v, ok := kf.String(g, "version"); ok {
			branches = []string{v}
		}
		for _, b := range branches {
			out = append(out, resolveExtension(dirs, kf, g, name, arch, b)...)
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Priority > out[b].Priority })
	return out
}

func resolveExtension(dirs []string, kf *permissions.KeyFile, g, name, arch, branch string) []Extension {
	directory, ok := kf.String(g, "directory")
	if !ok {
		return nil
	}
	r := ref.Ref{Kind: ref.Runtime, ID: name, Arch: arch, Branch: branch}
	if r.Validate() != nil {
		return nil
	}
	tmpl := Extension{Point: name, Directory: directory}
	tmpl.AddLdPath, _ = kf.String(g, "add-ld-path")
	tmpl.SubdirSuffix, _ = kf.String(g, "subdirectory-suffix")
	tmpl.MergeDirs, _ = kf.StringList(g, "merge-dirs")
	enableIf, _ := kf.String(g, "enable-if")

	if files := unmaintainedDir(dirs, name, arch, branch); files != "" {
		if !enabled(name, enableIf) {
			return nil
		}
		e := tmpl
		e.InstalledID, e.Ref, e.Files, e.Unmaintained, e.Priority = name, r, files, true, 1000
		return []Extension{e}
	}
	if d, err := FindDeployed(dirs, ref.Runtime, name, arch, branch, ""); err == nil {
		if !enabled(name, enableIf) {
			return nil
		}
		e := tmpl
		e.InstalledID, e.Ref, e.Files, e.Commit, e.Priority = name, r, d.Files(), d.Commit, priority(d.Dir)
		return []Extension{e}
	}
	if sub, _ := kf.String(g, "subdirectories"); sub != "true" && sub != "1" {
		return nil
	}
	var out []Extension
	prefix := name + "."
	for _, id := range deployedIDs(dirs, prefix, arch, branch) {
		d, err := FindDeployed(dirs, ref.Runtime, id, arch, branch, "")
		if err != nil || !enabled(id, enableIf) {
			continue
		}
		e := tmpl
		e.InstalledID, e.Ref, e.Files, e.Commit, e.Priority = id, d.Ref, d.Files(), d.Commit, priority(d.Dir)
		e.Directory, e.NeedsTmpfs = filepath.Join(directory, strings.TrimPrefix(id, prefix)), true
		out = append(out, e)
	}
	for _, id := range unmaintainedIDs(dirs, prefix, arch, branch) {
		files := unmaintainedDir(dirs, id, arch, branch)
		if files == "" || !enabled(id, enableIf) {
			continue
		}
		e := tmpl
		e.InstalledID, e.Ref, e.Files, e.Unmaintained, e.Priority = id, ref.Ref{Kind: ref.Runtime, ID: id, Arch: arch, Branch: branch}, files, true, 1000
		e.Directory, e.NeedsTmpfs = filepath.Join(directory, strings.TrimPrefix(id, prefix)), true
		out = append(out, e)
	}
	return out
}

// priority reads [ExtensionOf] priority of a deployment's metadata.
func priority(dir string) int {
	data, err := os.ReadFile(filepath.Join(dir, "metadata"))
	if err != nil {
		return 0
	}
	kf, err := permissions.ParseKeyFile(data)
	if err != nil {
		return 0
	}
	s, _ := kf.String(metadata.GroupExtensionOf, "priority")
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0
	}
	return n
}

// enabled evaluates enable-if (conditions separated by ';', any one
// suffices; none means enabled). active-gl-driver and active-gtk-theme
// compare the extension's last id element with the host's GL driver
// (FLATPAK_GL_DRIVERS, else "default" and "host") and GTK theme (unknown
// here: never).
func enabled(id, reasons string) bool {
	if reasons == "" {
		return true
	}
	i := strings.LastIndexByte(id, '.')
	if i < 0 {
		return false
	}
	base := id[i+1:]
	for _, c := range strings.Split(reasons, ";") {
		switch c {
		case "active-gl-driver":
			if slices.Contains(glDrivers(), base) {
				return true
			}
		case "active-gtk-theme":
		default:
			if condition(c) {
				return true
			}
		}
	}
	return false
}

func glDrivers() []string {
	if v := os.Getenv("FLATPAK_GL_DRIVERS"); v != "" {
		return strings.Split(v, ":")
	}
	return []string{"default", "host"}
}

// deployedIDs lists the ids with prefix deployed (active) at arch/branch
// in any of dirs, sorted.
func deployedIDs(dirs []string, prefix, arch, branch string) []string {
	seen := map[string]bool{}
	for _, inst := range dirs {
		ents, _ := os.ReadDir(filepath.Join(inst, string(ref.Runtime)))
		for _, e := range ents {
			n := e.Name()
			if e.IsDir() && !strings.HasPrefix(n, ".") && strings.HasPrefix(n, prefix) &&
				exists(filepath.Join(inst, string(ref.Runtime), n, arch, branch, "active")) {
				seen[n] = true
			}
		}
	}
	return sortedKeys(seen)
}

// unmaintainedIDs lists the unmaintained extensions with prefix
// (installation/extension/ID/ARCH/BRANCH), sorted.
func unmaintainedIDs(dirs []string, prefix, arch, branch string) []string {
	seen := map[string]bool{}
	for _, inst := range dirs {
		ents, _ := os.ReadDir(filepath.Join(inst, "extension"))
		for _, e := range ents {
			if n := e.Name(); strings.HasPrefix(n, prefix) && exists(filepath.Join(inst, "extension", n, arch, branch)) {
				seen[n] = true
			}
		}
	}
	return sortedKeys(seen)
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// unmaintainedDir returns installation/extension/NAME/ARCH/BRANCH of the
// first of dirs that has it, links resolved, or "".
func unmaintainedDir(dirs []string, name, arch, branch string) string {
	for _, inst := range dirs {
		if inst == "" {
			continue
		}
		p := filepath.Join(inst, "extension", name, arch, branch)
		if real, err := filepath.EvalSymlinks(p); err == nil {
			if fi, err := os.Stat(real); err == nil && fi.IsDir() {
				return real
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			continue
		}
	}
	return ""
}
