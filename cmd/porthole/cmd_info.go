package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/porthole-dev/porthole/internal/progress"
	"github.com/porthole-dev/porthole/internal/runspec"
	"github.com/porthole-dev/porthole/runtime/installation"
	"github.com/porthole-dev/porthole/runtime/permissions"
	"github.com/porthole-dev/porthole/runtime/ref"
)

func runInfo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newVerbFlags("info", stderr)
	inf := addInstFlags(fs)
	showMeta := fs.Bool("show-metadata", false, "show metadata")
	fs.BoolVar(showMeta, "m", false, "show metadata")
	showPerms := fs.Bool("show-permissions", false, "show permissions")
	fs.BoolVar(showPerms, "M", false, "show permissions")
	showRef := fs.Bool("show-ref", false, "show ref")
	showCommit := fs.Bool("show-commit", false, "show commit")
	showLoc := fs.Bool("show-location", false, "show location")
	showExt := fs.Bool("show-extensions", false, "show extensions")
	fileAccess := fs.String("file-access", "", "query file access")
	fs.BoolVar(showExt, "e", false, "show extensions")
	pos, ok := parseStoreFlags(fs, args, stderr)
	if !ok {
		return 1
	}
	if len(pos) < 1 || len(pos) > 2 {
		return usageFail(stderr, "info [OPTION…] NAME [BRANCH]")
	}
	branch := ""
	if len(pos) == 2 {
		branch = pos[1]
	}
	p, err := ref.ParsePartial(pos[0], "", inf.arch, branch)
	if err != nil {
		return fail(stderr, err)
	}
	for _, inst := range inf.openExisting(ctx) {
		r, err := inst.Find(p)
		if err != nil {
			inst.Close()
			continue
		}
		d, err := inst.Get(r)
		if err != nil {
			inst.Close()
			return fail(stderr, err)
		}
		defer inst.Close()
		switch {
		case *showMeta:
			stdout.Write(d.MetadataBytes)
		case *showPerms || *fileAccess != "":
			c, err := deployPermissions(ctx, inst, d)
			if err != nil {
				return fail(stderr, err)
			}
			if *showPerms {
				stdout.Write(c.Bytes(true))
			}
			if *fileAccess != "" {
				host, _ := currentHost()
				fmt.Fprintln(stdout, runspec.FileAccess(c, host, d.Ref.ID, *fileAccess))
			}
		case *showRef:
			fmt.Fprintln(stdout, d.Ref)
		case *showCommit:
			fmt.Fprintln(stdout, d.Commit)
		case *showLoc:
			fmt.Fprintln(stdout, d.Dir)
		default:
			printInfo(stdout, inst, d)
		}
		if *showExt {
			printExtensions(stdout, inst, d)
		}
		return 0
	}
	return fail(stderr, fmt.Errorf("%s: %w", pos[0], installation.ErrNotInstalled))
}

func printInfo(w io.Writer, inst *installation.Installation, d *installation.Deployment) {
	row := func(k, v string) { fmt.Fprintf(w, "%14s %s\n", k+":", v) }
	row("ID", d.Ref.ID)
	row("Ref", d.Ref.String())
	row("Arch", d.Ref.Arch)
	row("Branch", d.Ref.Branch)
	row("Origin", d.Origin)
	row("Installation", inst.Name)
	row("Installed", progress.FormatBytes(int64(d.InstalledSize)))
	if d.Metadata != nil && d.Ref.Kind == ref.App {
		row("Runtime", d.Metadata.Runtime())
		row("Sdk", d.Metadata.SDK())
	}
	fmt.Fprintln(w)
	row("Commit", d.Commit)
	if !d.Timestamp.IsZero() {
		row("Date", d.Timestamp.UTC().Format("2006-01-02 15:04:05 -0700"))
	}
	row("Location", d.Dir)
}

// deployPermissions is the context `flatpak info --show-permissions`
// shows: the metadata's, then the overrides: system ones only for a
// system installation, the user's always (apps only for per-app ones).
func deployPermissions(ctx context.Context, inst *installation.Installation, d *installation.Deployment) (*permissions.Context, error) {
	l := permissions.Layers{App: permissions.New()}
	if d.Metadata != nil {
		c, err := d.Metadata.Context()
		if err != nil {
			return nil, err
		}
		l.App = c
	}
	app := ""
	if d.Ref.Kind == ref.App {
		app = d.Ref.ID
	}
	type layer struct {
		dir, app string
		dst      **permissions.Context
	}
	layers := []layer{{userInstallation(), "", &l.UserGlobal}}
	if app != "" {
		layers = append(layers, layer{userInstallation(), app, &l.UserApp})
	}
	if filepath.Clean(inst.Dir) != filepath.Clean(userInstallation()) {
		layers = append(layers, layer{inst.Dir, "", &l.SystemGlobal})
		if app != "" {
			layers = append(layers, layer{inst.Dir, app, &l.SystemApp})
		}
	}
	for _, o := range layers {
		c, err := permissions.LoadOverride(ctx, permissions.OverridePath(o.dir, o.app))
		if err != nil {
			return nil, err
		}
		*o.dst = c
	}
	return permissions.Effective(l), nil
}

// printExtensions lists the installed extensions of d's extension points
// as `flatpak info --show-extensions` does, looked up in d's
// installation.
func printExtensions(w io.Writer, inst *installation.Installation, d *installation.Deployment) {
	const width = len("Installation:")
	row := func(k, v string) { fmt.Fprintf(w, "%*s %s\n", width, k+":", v) }
	for _, e := range installation.ListExtensions([]string{userInstallation(), systemInstallation()}, d.Metadata, d.Ref.Arch, d.Ref.Branch) {
		origin, commit, size := "-", "unmaintained", "unknown"
		if !e.Unmaintained {
			commit = e.Commit
			if ed, err := inst.Get(e.Ref); err == nil {
				origin, commit = ed.Origin, ed.Commit
				// g_format_size separates with a no-break space.
				size = strings.ReplaceAll(progress.FormatBytes(int64(ed.InstalledSize)), " ", "\u00a0")
			}
		}
		fmt.Fprintln(w)
		row("Extension", e.Ref.String())
		row("ID", e.Point)
		row("Origin", origin)
		row("Commit", commit)
		row("Installed", size)
	}
}
