package permissions

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// OverridePath returns <installation>/overrides/APP, or …/global when
// app is empty.
func OverridePath(installation, app string) string {
	if app == "" {
		app = "global"
	}
	return filepath.Join(installation, "overrides", app)
}

// LoadOverrideFile reads an override key file; a missing file gives an
// empty key file.
func LoadOverrideFile(ctx context.Context, path string) (*KeyFile, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &KeyFile{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading override %s: %w", path, err)
	}
	kf, err := ParseKeyFile(data)
	if err != nil {
		return nil, fmt.Errorf("reading override %s: %w", path, err)
	}
	return kf, nil
}

// LoadOverride reads an override file into a Context (empty if missing).
func LoadOverride(ctx context.Context, path string) (*Context, error) {
	kf, err := LoadOverrideFile(ctx, path)
	if err != nil {
		return nil, err
	}
	c := New()
	if err := c.LoadMetadata(kf); err != nil {
		return nil, fmt.Errorf("reading override %s: %w", path, err)
	}
	return c, nil
}

// UpdateOverride does what `flatpak override` does: load the file, merge
// the given context into it, and save it unflattened, keeping unrelated
// keys in place.
func UpdateOverride(ctx context.Context, path string, add *Context) error {
	kf, err := LoadOverrideFile(ctx, path)
	if err != nil {
		return err
	}
	c := New()
	if err := c.LoadMetadata(kf); err != nil {
		return fmt.Errorf("reading override %s: %w", path, err)
	}
	c.Merge(add)
	c.Save(kf, false)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("writing override: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, kf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("writing override: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing override: %w", err)
	}
	return nil
}

// ResetOverride deletes an override file; a missing file is not an error.
func ResetOverride(ctx context.Context, path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing override: %w", err)
	}
	return nil
}

// Layers is the input of Effective: each may be nil.
type Layers struct {
	Runtime, App            *Context // metadata
	SystemGlobal, SystemApp *Context // system installation overrides
	UserGlobal, UserApp     *Context // user installation overrides
	Sandbox                 bool     // flatpak run --sandbox
	CommandLine             *Context
}

// Effective merges the layers in Flatpak's order: runtime (environment
// only), app, system global, system app, user global, user app, then
// --sandbox stripping, then the command line.
func Effective(l Layers) *Context {
	c := New()
	if l.Runtime != nil {
		r := l.Runtime.Clone()
		r.ResetPermissions()
		c.Merge(r)
	}
	for _, x := range []*Context{l.App, l.SystemGlobal, l.SystemApp, l.UserGlobal, l.UserApp} {
		if x != nil {
			c.Merge(x)
		}
	}
	if l.Sandbox {
		c.Sandbox()
	}
	if l.CommandLine != nil {
		c.Merge(l.CommandLine)
	}
	return c
}
