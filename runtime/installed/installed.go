// Package installed is a minimal, read-only lookup of deployed apps and
// runtimes in Flatpak-layout installations, enough for `porthole run`:
//
//	DIR/app/ID/current -> ARCH/BRANCH
//	DIR/app/ID/ARCH/BRANCH/active -> COMMIT
//	DIR/app/ID/ARCH/BRANCH/COMMIT/{files/,metadata}
//	DIR/runtime/ID/ARCH/BRANCH/{active,COMMIT/…}
//
// Glossary:
//   - Installation: a directory with that layout (user or system).
//   - Deployment: one active checkout of a ref: its files, metadata and
//     commit.
package installed

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// ErrNotInstalled reports a ref that no installation has deployed.
var ErrNotInstalled = errors.New("not installed")

// Kind is "app" or "runtime".
type Kind string

// Ref kinds.
const (
	App     Kind = "app"
	Runtime Kind = "runtime"
)

// Deployment is an active deployed ref.
type Deployment struct {
	Kind                Kind
	ID, Arch, Branch    string
	Commit              string
	Dir                 string // the commit directory
	Installation        string
	Files, MetadataPath string
}

// Ref returns KIND/ID/ARCH/BRANCH.
func (d *Deployment) Ref() string {
	return fmt.Sprintf("%s/%s/%s/%s", d.Kind, d.ID, d.Arch, d.Branch)
}

// Metadata returns the metadata file's content.
func (d *Deployment) Metadata() ([]byte, error) {
	data, err := os.ReadFile(d.MetadataPath)
	if err != nil {
		return nil, fmt.Errorf("reading metadata of %s: %w", d.Ref(), err)
	}
	return data, nil
}

// NativeArch returns the Flatpak name of the machine's architecture.
func NativeArch() string {
	switch runtime.GOARCH {
	case "amd64":
		return "x86_64"
	case "386":
		return "i386"
	case "arm64":
		return "aarch64"
	case "arm":
		return "arm"
	}
	return runtime.GOARCH
}

// Find looks id up in the installations, in order. Empty arch means the
// native one; empty branch means the app's current branch, else the only
// deployed branch.
func Find(installations []string, kind Kind, id, arch, branch string) (*Deployment, error) {
	if arch == "" {
		arch = NativeArch()
	}
	for _, inst := range installations {
		if inst == "" {
			continue
		}
		b := branch
		base := filepath.Join(inst, string(kind), id)
		if b == "" {
			b = defaultBranch(base, arch)
		}
		if b == "" {
			continue
		}
		dir := filepath.Join(base, arch, b)
		commit, err := os.Readlink(filepath.Join(dir, "active"))
		if err != nil {
			continue
		}
		cdir := filepath.Join(dir, commit)
		if _, err := os.Stat(filepath.Join(cdir, "files")); err != nil {
			continue
		}
		return &Deployment{
			Kind: kind, ID: id, Arch: arch, Branch: b, Commit: filepath.Base(commit),
			Dir: cdir, Installation: inst,
			Files: filepath.Join(cdir, "files"), MetadataPath: filepath.Join(cdir, "metadata"),
		}, nil
	}
	return nil, fmt.Errorf("%s/%s/%s/%s: %w", kind, id, arch, branch, ErrNotInstalled)
}

func defaultBranch(base, arch string) string {
	if cur, err := os.Readlink(filepath.Join(base, "current")); err == nil {
		if a, b, ok := strings.Cut(cur, "/"); ok && a == arch {
			return b
		}
	}
	ents, err := os.ReadDir(filepath.Join(base, arch))
	if err != nil || len(ents) != 1 {
		return ""
	}
	return ents[0].Name()
}

// Deploy lays out files and metadata as the active deployment of a ref
// in installation, for tests and local development: files is symlinked
// (not copied) into place.
func Deploy(installation string, kind Kind, id, arch, branch, commit, files string, metadata []byte) (*Deployment, error) {
	if arch == "" {
		arch = NativeArch()
	}
	dir := filepath.Join(installation, string(kind), id, arch, branch)
	cdir := filepath.Join(dir, commit)
	if err := os.MkdirAll(cdir, 0o755); err != nil {
		return nil, fmt.Errorf("deploying %s: %w", id, err)
	}
	abs, err := filepath.Abs(files)
	if err != nil {
		return nil, err
	}
	os.Remove(filepath.Join(cdir, "files"))
	if err := os.Symlink(abs, filepath.Join(cdir, "files")); err != nil {
		return nil, fmt.Errorf("deploying %s: %w", id, err)
	}
	if err := os.WriteFile(filepath.Join(cdir, "metadata"), metadata, 0o644); err != nil {
		return nil, fmt.Errorf("deploying %s: %w", id, err)
	}
	os.Remove(filepath.Join(dir, "active"))
	if err := os.Symlink(commit, filepath.Join(dir, "active")); err != nil {
		return nil, fmt.Errorf("deploying %s: %w", id, err)
	}
	if kind == App {
		cur := filepath.Join(installation, string(kind), id, "current")
		os.Remove(cur)
		os.Symlink(arch+"/"+branch, cur)
	}
	return Find([]string{installation}, kind, id, arch, branch)
}
