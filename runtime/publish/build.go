package publish

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/porthole-dev/porthole/runtime/metadata"
	"github.com/porthole-dev/porthole/runtime/permissions"
	"github.com/porthole-dev/porthole/runtime/ref"
)

// Errors.
var (
	ErrExists   = errors.New("build directory already initialized")
	ErrNotBuild = errors.New("not a build directory")
)

// InitOptions tune BuildInit.
type InitOptions struct {
	Arch    string // "" means native
	Runtime bool   // --type=runtime: [Runtime] group, files under usr
	// Update reinitializes an existing directory's metadata.
	Update bool
}

// BuildInit creates DIR/{files,var,metadata} for id with runtime and sdk
// (IDs) at branch ("" means master), as flatpak build-init does.
func BuildInit(dir, id, sdk, rt, branch string, opts InitOptions) error {
	if err := ref.ValidateID(id); err != nil {
		return err
	}
	arch := opts.Arch
	if arch == "" {
		arch = ref.NativeArch()
	}
	if branch == "" {
		branch = "master"
	}
	mp := filepath.Join(dir, "metadata")
	if _, err := os.Stat(mp); err == nil && !opts.Update {
		return fmt.Errorf("%s: %w", dir, ErrExists)
	}
	pref := func(s string) string {
		if s == "" || strings.Count(s, "/") == 2 {
			return s
		}
		return s + "/" + arch + "/" + branch
	}
	kind := ref.App
	files := "files"
	if opts.Runtime {
		kind = ref.Runtime
		files = "usr"
	}
	for _, d := range []string{files, "var/tmp", "var/run"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return fmt.Errorf("cannot create build directory: %w", err)
		}
	}
	m := metadata.New(kind, id, pref(rt), pref(sdk))
	return writeFile(mp, m.Bytes())
}

// FinishOptions tune Finish.
type FinishOptions struct {
	Command string
	// Context holds --share/--socket/… options.
	Context *permissions.Context
	// NoExports skips exporting desktop files and icons.
	NoExports bool
	// RequireVersion sets required-flatpak.
	RequireVersion string
	// Extra sets other main-group keys, in order.
	Extra [][2]string
}

// Finish completes DIR's metadata (command, permissions) and copies the
// files the app exports (share/applications/ID*.desktop, share/icons/…/ID*,
// share/dbus-1/services/ID*.service, share/metainfo) into DIR/export.
func Finish(dir string, opts FinishOptions) error {
	mp := filepath.Join(dir, "metadata")
	data, err := os.ReadFile(mp)
	if err != nil {
		return fmt.Errorf("%s: %w", dir, ErrNotBuild)
	}
	m, err := metadata.Parse(data)
	if err != nil {
		return err
	}
	cmd := opts.Command
	if cmd == "" && m.Kind() == ref.App && m.Command() == "" {
		ents, _ := os.ReadDir(filepath.Join(dir, "files", "bin"))
		if len(ents) == 1 {
			cmd = ents[0].Name()
		}
	}
	if cmd != "" {
		m.Set("command", cmd)
	}
	if opts.RequireVersion != "" {
		m.Set("required-flatpak", opts.RequireVersion)
	}
	for _, kv := range opts.Extra {
		m.Set(kv[0], kv[1])
	}
	if opts.Context != nil {
		if err := m.AddContext(opts.Context); err != nil {
			return err
		}
	}
	if m.Kind() == ref.App && !opts.NoExports {
		if err := exportFiles(dir, m.Name()); err != nil {
			return err
		}
	}
	return writeFile(mp, m.Bytes())
}

// exportFiles copies exportable files named after id from files/share to
// export/share.
func exportFiles(dir, id string) error {
	src := filepath.Join(dir, "files", "share")
	dst := filepath.Join(dir, "export", "share")
	if err := os.MkdirAll(filepath.Join(dir, "export"), 0o755); err != nil {
		return err
	}
	return filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil
			}
			return err
		}
		rel, _ := filepath.Rel(src, p)
		top, _, _ := strings.Cut(rel, string(filepath.Separator))
		if d.IsDir() {
			if rel != "." && !exportable[top] {
				return filepath.SkipDir
			}
			return nil
		}
		base := d.Name()
		if !strings.HasPrefix(base, id+".") && !strings.HasPrefix(base, id+"-") && top != "icons" {
			return nil
		}
		if top == "icons" && !strings.HasPrefix(base, id) {
			return nil
		}
		out := filepath.Join(dst, rel)
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return err
		}
		return copyFile(p, out)
	})
}

var exportable = map[string]bool{"applications": true, "icons": true, "dbus-1": true, "metainfo": true,
	"appdata": true, "mime": true, "gnome-shell": true, "krunner": true}

func copyFile(src, dst string) error {
	fi, err := os.Lstat(src)
	if err != nil {
		return err
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		t, err := os.Readlink(src)
		if err != nil {
			return err
		}
		os.Remove(dst)
		return os.Symlink(t, dst)
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, fi.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func writeFile(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	return nil
}
