package main

import (
	"context"
	"fmt"
	"io"
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
	for _, inst := range inf.openExisting(ctx) {
		ds, err := inst.List(kinds...)
		if err != nil {
			return fail(stderr, err)
		}
		for _, d := range ds {
			var f []string
			for _, c := range strings.Split(*cols, ",") {
				f = append(f, column(inst, d, strings.TrimSpace(c)))
			}
			fmt.Fprintln(stdout, strings.Join(f, "\t"))
		}
		inst.Close()
	}
	return 0
}

func column(inst *installation.Installation, d *installation.Deployment, c string) string {
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
		return d.Ref.String()
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
	}
	return ""
}
