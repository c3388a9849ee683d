package main

import (
	"context"
	"fmt"
	"io"

	"github.com/porthole-dev/porthole/runtime/installation"
	"github.com/porthole-dev/porthole/runtime/ref"
)

func runUpdate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newVerbFlags("update", stderr)
	inf := addInstFlags(fs)
	yes := fs.Bool("y", false, "automatically answer yes")
	fs.BoolVar(yes, "assumeyes", false, "automatically answer yes")
	quiet := fs.Bool("noninteractive", false, "produce minimal output and don't ask questions")
	noRelated := fs.Bool("no-related", false, "don't update related refs")
	pos, ok := parseStoreFlags(fs, args, stderr)
	if !ok {
		return 1
	}
	if *quiet {
		*yes = true
	}
	code := 0
	updated := 0
	var done []planOp
	if !*quiet {
		fmt.Fprintln(stdout, "Looking for updates…")
	}
	for _, inst := range inf.openExisting(ctx) {
		var targets []ref.Ref
		if len(pos) == 0 {
			ds, _ := inst.List()
			for _, d := range ds {
				targets = append(targets, d.Ref)
			}
		}
		for _, s := range pos {
			p, err := ref.ParsePartial(s, "", inf.arch, "")
			if err != nil {
				return fail(stderr, err)
			}
			r, err := inst.Find(p)
			if err != nil {
				continue
			}
			targets = append(targets, r)
		}
		in := &installer{inst: inst, stdout: stdout, stderr: stderr, yes: *yes, quiet: *quiet, noRelated: *noRelated}
		plan, err := in.updatePlan(ctx, targets)
		if err != nil {
			fmt.Fprintf(stderr, "error: %v\n", err)
			code = 1
		}
		if len(plan) > 0 {
			if err := in.confirmPlan(plan); err != nil {
				inst.Close()
				return fail(stderr, err)
			}
			for k, op := range plan {
				if err := in.pull(ctx, op, k+1, len(plan)); err != nil {
					fmt.Fprintf(stderr, "error: %v\n", err)
					code = 1
					continue
				}
				updated++
				done = append(done, op)
			}
		}
		inst.Close()
	}
	if !*quiet {
		if updated == 0 && code == 0 {
			fmt.Fprintln(stdout, "Nothing to do.")
		} else if updated > 0 {
			fmt.Fprintln(stdout, doneMessage(done))
		}
	}
	return code
}

// rebase prints the notice for a ref that is end-of-life in favour of
// another one the remote has and asks (yes answers) whether to replace it.
func (in *installer) rebase(r ref.Ref, rr installation.RemoteRef, refs map[string]installation.RemoteRef) (ref.Ref, bool) {
	if rr.EOLRebase == "" {
		return ref.Ref{}, false
	}
	nr, err := ref.Parse(rr.EOLRebase)
	if _, ok := refs[rr.EOLRebase]; err != nil || !ok || nr.Kind != r.Kind {
		return ref.Ref{}, false
	}
	if in.quiet {
		return nr, true
	}
	in.printEOL(r, rr.EOL, rr.EOLRebase)
	return nr, in.yes || confirm(in.stdout, false, "Replace?")
}

// updatePlan reads the summaries of the targets' origins and returns an
// update for each whose commit changed, plus installs of related refs
// (autodownload extensions) that appeared.
func (in *installer) updatePlan(ctx context.Context, targets []ref.Ref) ([]planOp, error) {
	type key struct{ remote, arch string }
	summaries := map[key]map[string]installation.RemoteRef{}
	var plan []planOp
	var firstErr error
	planned := map[ref.Ref]bool{}
	for _, r := range targets {
		d, err := in.inst.Get(r)
		if err != nil || planned[r] {
			continue
		}
		k := key{d.Origin, r.Arch}
		refs, ok := summaries[k]
		if !ok {
			_, refs, err = in.inst.FetchSummary(ctx, d.Origin, r.Arch)
			if err != nil {
				if firstErr == nil {
					firstErr = fmt.Errorf("updating %s: %w", r, err)
				}
				continue
			}
			summaries[k] = refs
		}
		rr, ok := refs[r.String()]
		if !ok {
			continue
		}
		if nr, ok := in.rebase(r, rr, refs); ok {
			// End of life in favour of another ref: install that one
			// (remembering this id) and remove this one, as flatpak.
			// Flatpak lists (and runs) the removal first.
			planned[r] = true
			plan = append(plan, planOp{r: r, remote: d.Origin, op: "r"})
			nop := planOp{r: nr, remote: d.Origin, rr: refs[nr.String()], op: "i", prevIDs: []string{r.ID}}
			if _, err := in.inst.Get(nr); err != nil {
				plan = append(append(plan, in.related(nop, refs)...), nop)
			}
			continue
		}
		op := planOp{r: r, remote: d.Origin, rr: rr, op: "u", oldMD: string(d.MetadataBytes)}
		if !in.noRelated {
			for _, rel := range in.related(op, refs) {
				if !planned[rel.r] {
					planned[rel.r] = true
					plan = append(plan, rel)
				}
			}
		}
		if rr.Commit != d.Commit {
			planned[r] = true
			plan = append(plan, op)
		} else if err := in.inst.Tidy(r); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return plan, firstErr
}
