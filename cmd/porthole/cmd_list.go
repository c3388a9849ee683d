package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/porthole-dev/porthole/internal/progress"
	"github.com/porthole-dev/porthole/runtime/installation"
	"github.com/porthole-dev/porthole/runtime/ref"
)

func runList(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newVerbFlags("list", stderr)
	inf := addInstFlags(fs)
	apps := fs.Bool("app", false, "list installed applications")
	rts := fs.Bool("runtime", false, "list installed runtimes")
	cols := fs.String("columns", "name,application,version,branch,installation", "what information to show")
	all := fs.Bool("all", false, "list all refs (including locale/debug)")
	fs.BoolVar(all, "a", false, "list all refs (including locale/debug)")
	if _, ok := parseStoreFlags(fs, args, stderr); !ok {
		return 1
	}
	var kinds []ref.Kind
	if *apps {
		kinds = append(kinds, ref.App)
	}
	if *rts {
		kinds = append(kinds, ref.Runtime)
	}
	insts := inf.openExisting(ctx)
	lo := listOpts{multi: len(insts) > 1, apps: *apps || !*rts}
	for _, inst := range insts {
		ds, err := inst.List(kinds...)
		if err != nil {
			return fail(stderr, err)
		}
		installed := map[string]bool{}
		for _, d := range ds {
			installed[d.Ref.String()] = true
		}
		for _, d := range ds {
			// Like flatpak, hide .Locale/.Debug/.Sources extensions of
			// listed refs and of apps unless --all.
			if eo := extensionOf(d); !*all && eo != "" && isSubref(d.Ref.ID) && ((!*apps && strings.HasPrefix(eo, "app/")) || installed[eo]) {
				continue
			}
			var f []string
			for _, c := range strings.Split(*cols, ",") {
				f = append(f, column(inst, d, strings.TrimSpace(c), lo))
			}
			fmt.Fprintln(stdout, strings.Join(f, "\t"))
		}
		inst.Close()
	}
	return 0
}

type listOpts struct{ multi, apps bool }

func extensionOf(d *installation.Deployment) string {
	if d.Metadata == nil {
		return ""
	}
	return d.Metadata.ExtensionOf()
}

// isSubref: a Locale, Debug or Sources extension id.
func isSubref(id string) bool {
	last := id[strings.LastIndexByte(id, '.')+1:]
	return last == "Locale" || last == "Debug" || last == "Sources"
}

func column(inst *installation.Installation, d *installation.Deployment, c string, lo listOpts) string {
	switch c {
	case "name":
		parts := strings.Split(d.Ref.ID, ".")
		return parts[len(parts)-1]
	case "application", "app":
		return d.Ref.ID
	case "version":
		return ""
	case "branch":
		return d.Ref.Branch
	case "arch":
		return d.Ref.Arch
	case "ref":
		return d.Ref.Pref()
	case "origin":
		return d.Origin
	case "installation":
		return inst.Name
	case "active", "commit":
		return d.Commit[:12]
	case "size":
		return progress.FormatBytes(int64(d.InstalledSize))
	case "runtime":
		if d.Metadata != nil {
			return d.Metadata.Runtime()
		}
	case "options":
		var o []string
		if lo.multi {
			o = append(o, inst.Name)
		}
		if d.Ref.Kind == ref.App {
			if cur, err := os.Readlink(filepath.Join(inst.Dir, "app", d.Ref.ID, "current")); err == nil && cur == d.Ref.Arch+"/"+d.Ref.Branch {
				o = append(o, "current")
			}
		} else if lo.apps {
			o = append(o, "runtime")
		}
		if d.EOL != "" {
			o = append(o, "eol="+d.EOL)
		}
		if d.EOLRebase != "" {
			o = append(o, "eol-rebase="+d.EOLRebase)
		}
		return strings.Join(o, ",")
	}
	return ""
}
