package installation

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/porthole-dev/porthole/internal/gvariant"
	"github.com/porthole-dev/porthole/internal/keyfile"
	"github.com/porthole-dev/porthole/runtime/metadata"
	"github.com/porthole-dev/porthole/runtime/ref"
	"github.com/porthole-dev/porthole/store"
	"github.com/porthole-dev/porthole/store/object"
	"github.com/porthole-dev/porthole/store/pull"
)

// InstallOptions tune Install and Update.
type InstallOptions struct {
	Progress pull.Progress
	// Fetcher replaces the remote's (tests).
	Fetcher pull.Fetcher
	// RunCommand is the launcher used in exported desktop files and
	// wrappers; "" means "porthole".
	RunCommand string
	// ExpectMetadata, when set, is the metadata the remote's summary
	// (xa.cache) announced; a commit whose xa.metadata differs is refused.
	ExpectMetadata string
	// Commit is the commit the remote's summary names for the ref (as
	// FetchSummary returned it); "" reads the summary first.
	Commit string
	// PreviousIDs are ids this ref replaces (an end-of-life rebase),
	// recorded as previous-ids in the deploy file.
	PreviousIDs []string
}

// Install pulls r from remote and deploys it. Installing a ref that is
// already deployed is ErrAlreadyInstalled.
func (i *Installation) Install(ctx context.Context, remote string, r ref.Ref, o InstallOptions) (*Deployment, error) {
	if d, err := i.Get(r); err == nil {
		return d, errors.Join(fmt.Errorf("%s: %w", r, ErrAlreadyInstalled), i.Tidy(r))
	}
	return i.pullDeploy(ctx, remote, r, o, "install")
}

// Update pulls the origin of r again and deploys a new commit if there is
// one; it returns the deployment and whether it changed.
func (i *Installation) Update(ctx context.Context, r ref.Ref, o InstallOptions) (*Deployment, bool, error) {
	d, err := i.Get(r)
	if err != nil {
		return nil, false, err
	}
	nd, err := i.pullDeploy(ctx, d.Origin, r, o, "update")
	if err != nil {
		return d, false, err
	}
	return nd, nd.Commit != d.Commit, nil
}

func (i *Installation) pullDeploy(ctx context.Context, remote string, r ref.Ref, o InstallOptions, action string) (*Deployment, error) {
	i.cleanStaging(r)
	po := pull.Options{Progress: o.Progress, Fetcher: o.Fetcher}
	if o.Commit == "" {
		_, refs, err := i.fetchSummary(ctx, remote, o.Fetcher, []string{r.Arch})
		switch {
		case errors.Is(err, pull.ErrNotFound):
			// No summary at all (verification off): pull reads refs/heads.
		case err != nil:
			return nil, err
		default:
			rr, ok := refs[r.String()]
			if !ok {
				return nil, fmt.Errorf("remote %q has no %s: %w", remote, r, pull.ErrNoRef)
			}
			o.Commit = rr.Commit
			if o.ExpectMetadata == "" {
				o.ExpectMetadata = rr.Metadata
			}
		}
	}
	if o.Commit != "" {
		c, err := object.ParseChecksum(o.Commit)
		if err != nil {
			return nil, err
		}
		po.Commits = map[string]object.Checksum{r.String(): c}
	}
	res, err := pull.Pull(ctx, i.repo, remote, []string{r.String()}, po)
	if err != nil {
		return nil, err
	}
	sum := res.Refs[r.String()]
	if d, err := i.Get(r); err == nil && d.Commit == sum.String() {
		return d, i.UpdateExports()
	}
	d, err := i.Deploy(ctx, remote, r, sum, o)
	if err != nil {
		return nil, err
	}
	i.logHistory(action, r, remote, sum.String())
	return d, nil
}

// Tidy finishes what an interrupted install or update of r left undone:
// it removes staging directories and deployments other than the active
// one, and rebuilds the exports.
func (i *Installation) Tidy(r ref.Ref) error {
	i.cleanStaging(r)
	return i.UpdateExports()
}

// cleanStaging removes what an interrupted run left: staging
// directories, and deployments that are not the active one.
func (i *Installation) cleanStaging(r ref.Ref) {
	base := i.refDir(r)
	active, _ := os.Readlink(filepath.Join(base, "active"))
	ents, _ := os.ReadDir(base)
	for _, e := range ents {
		if e.IsDir() && e.Name() != active && strings.HasPrefix(e.Name(), ".") {
			os.RemoveAll(filepath.Join(base, e.Name())) // staging
		}
	}
	i.retireAll(r, active, true)
}

// crashAt names a point of Deploy where the process kills itself with
// SIGKILL, as kill -9 would (PORTHOLE_TEST_CRASH_AT, for crash tests):
// "staged" (checked out, not renamed), "renamed" (complete, not active),
// "activated" (active, previous deployment and exports not updated).
var crashAt = os.Getenv("PORTHOLE_TEST_CRASH_AT")

func crashPoint(name string) {
	if crashAt == name {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
}

// Deploy checks out commit sum of r (already in the repository) as the
// new active deployment, then removes the previous one.
func (i *Installation) Deploy(ctx context.Context, origin string, r ref.Ref, sum object.Checksum, o InstallOptions) (*Deployment, error) {
	cm, err := i.commitInfo(ctx, sum)
	if err != nil {
		return nil, err
	}
	if bound, ok := cm.Metadata.Lookup("ostree.ref-binding"); ok {
		v, err := bound.Variant()
		if err != nil || v.Type().String() != "as" || !contains(v.StringSlice(), r.String()) {
			return nil, fmt.Errorf("commit %s: %w %s", sum, pull.ErrRefBinding, r)
		}
	}
	if xr, ok := metaString(cm, "xa.ref"); ok && xr != r.String() {
		return nil, fmt.Errorf("commit %s has xa.ref %s: %w %s", sum, xr, pull.ErrRefBinding, r)
	}
	base := i.refDir(r)
	if err := os.MkdirAll(base, 0o755); err != nil {
		return nil, fmt.Errorf("cannot deploy %s: %w", r, err)
	}
	stage, err := os.MkdirTemp(base, "."+sum.String()+"-")
	if err != nil {
		return nil, fmt.Errorf("cannot deploy %s: %w", r, err)
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(stage)
		}
	}()
	os.Remove(stage) // Checkout creates it
	if err := store.Checkout(ctx, i.repo, sum.String(), stage, store.CheckoutOptions{UserMode: true}); err != nil {
		return nil, fmt.Errorf("cannot deploy %s: %w", r, err)
	}
	mdBytes, err := os.ReadFile(filepath.Join(stage, "metadata"))
	if err != nil {
		return nil, fmt.Errorf("deploying %s: no metadata: %w", r, err)
	}
	xm, hasXM := metaString(cm, "xa.metadata")
	if o.ExpectMetadata != "" && (!hasXM || xm != o.ExpectMetadata) {
		return nil, fmt.Errorf("deploying %s: commit metadata differs from the remote's summary: %w", r, ErrMetadataMismatch)
	}
	if hasXM && xm != string(mdBytes) {
		return nil, fmt.Errorf("deploying %s: %w", r, ErrMetadataMismatch)
	}
	md, err := metadata.Parse(mdBytes)
	if err != nil {
		return nil, fmt.Errorf("deploying %s: %w", r, err)
	}
	if err := os.WriteFile(filepath.Join(stage, "files", ".ref"), nil, 0o644); err != nil {
		return nil, fmt.Errorf("cannot deploy %s: %w", r, err)
	}
	if r.Kind == ref.App {
		if err := rewriteExports(stage, r, md, o.RunCommand); err != nil {
			return nil, err
		}
	}
	installed := beUint64(metaUint64(cm, "xa.installed-size"))
	dm := []gvariant.Value{gvariant.DictEntry(gvariant.String("deploy-version"), gvariant.Variant(gvariant.Int32(4)))}
	if r.Kind == ref.App && md.Runtime() != "" {
		dm = append(dm, gvariant.DictEntry(gvariant.String("runtime"), gvariant.Variant(gvariant.String(md.Runtime()))))
	}
	if eo := md.ExtensionOf(); eo != "" {
		dm = append(dm, gvariant.DictEntry(gvariant.String("extension-of"), gvariant.Variant(gvariant.String(eo))))
	}
	dm = append(dm, gvariant.DictEntry(gvariant.String("timestamp"), gvariant.Variant(gvariant.Uint64(cm.Timestamp))))
	if len(o.PreviousIDs) > 0 {
		dm = append(dm, gvariant.DictEntry(gvariant.String("previous-ids"), gvariant.Variant(gvariant.Strings(o.PreviousIDs))))
	}
	for _, k := range [][2]string{{"ostree.endoflife", "eol"}, {"ostree.endoflife-rebase", "eolr"}} {
		if v, ok := metaString(cm, k[0]); ok {
			dm = append(dm, gvariant.DictEntry(gvariant.String(k[1]), gvariant.Variant(gvariant.String(v))))
		}
	}
	deploy := gvariant.Tuple(gvariant.String(origin), gvariant.String(sum.String()),
		gvariant.Array(gvariant.MustType("s")), gvariant.Uint64(beUint64(installed)),
		gvariant.Array(gvariant.MustType("{sv}"), dm...))
	if err := writeSync(filepath.Join(stage, "deploy"), gvariant.Marshal(deploy)); err != nil {
		return nil, fmt.Errorf("cannot deploy %s: %w", r, err)
	}
	crashPoint("staged")
	final := filepath.Join(base, sum.String())
	if _, err := os.Stat(final); err == nil {
		// A complete deployment of the same commit exists but is not
		// active (an interrupted switch); replace it.
		os.RemoveAll(final)
	}
	if err := os.Rename(stage, final); err != nil {
		return nil, fmt.Errorf("cannot deploy %s: %w", r, err)
	}
	ok = true
	syncDir(base)
	crashPoint("renamed")
	// Keep the deployed commit from being pruned.
	if err := i.repo.SetRef(ctx, "", "deploy/"+r.String(), &sum); err != nil {
		return nil, err
	}
	if r.Kind == ref.App {
		cur := filepath.Join(i.Dir, "app", r.ID, "current")
		if old, err := os.Readlink(cur); err != nil || old != r.Arch+"/"+r.Branch {
			if err := atomicSymlink(r.Arch+"/"+r.Branch, cur); err != nil {
				return nil, err
			}
		}
	}
	if err := atomicSymlink(sum.String(), filepath.Join(base, "active")); err != nil {
		return nil, fmt.Errorf("cannot activate %s: %w", r, err)
	}
	crashPoint("activated")
	// Retire the previous deployment, and any an interrupted run left;
	// delete those retired earlier that no sandbox uses any more.
	i.retireAll(r, sum.String(), true)
	i.cleanRemoved()
	if err := i.UpdateExports(); err != nil {
		return nil, err
	}
	return i.Get(r)
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func writeSync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) {
	if f, err := os.Open(dir); err == nil {
		f.Sync()
		f.Close()
	}
}

// atomicSymlink points link at target by renaming a fresh symlink over it.
func atomicSymlink(target, link string) error {
	tmp := filepath.Join(filepath.Dir(link), "."+filepath.Base(link)+".tmp")
	os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, link); err != nil {
		os.Remove(tmp)
		return err
	}
	syncDir(filepath.Dir(link))
	return nil
}

// rewriteExports rewrites Exec lines of exported desktop files to run the
// app through the launcher and adds export/bin/ID. Files are replaced, not
// edited, because they are hard links into the repository.
func rewriteExports(stage string, r ref.Ref, md *metadata.Metadata, run string) error {
	if run == "" {
		run = "porthole"
	}
	launch := fmt.Sprintf("%s run --branch=%s --arch=%s", run, r.Branch, r.Arch)
	apps := filepath.Join(stage, "export", "share", "applications")
	ents, _ := os.ReadDir(apps)
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".desktop") {
			continue
		}
		p := filepath.Join(apps, e.Name())
		kf, err := keyfile.Load(p)
		if err != nil {
			continue
		}
		for _, g := range kf.Groups() {
			if g != "Desktop Entry" && !strings.HasPrefix(g, "Desktop Action ") {
				continue
			}
			exec, err := kf.String(g, "Exec")
			if err != nil {
				continue
			}
			cmd, args, _ := strings.Cut(strings.TrimSpace(exec), " ")
			line := launch + " --command=" + cmd + " " + r.ID
			if args != "" {
				line += " " + args
			}
			_ = kf.SetString(g, "Exec", line)
			if g == "Desktop Entry" {
				_ = kf.SetString(g, "X-Flatpak", r.ID)
			}
		}
		os.Remove(p)
		if err := os.WriteFile(p, kf.Bytes(), 0o644); err != nil {
			return err
		}
	}
	bin := filepath.Join(stage, "export", "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return err
	}
	script := fmt.Sprintf("#!/bin/sh\nexec %s %s \"$@\"\n", launch, r.ID)
	return os.WriteFile(filepath.Join(bin, r.ID), []byte(script), 0o755)
}

// UpdateExports rebuilds DIR/exports as symlinks into the active exports
// of the current branch of every app, and drops dangling ones.
func (i *Installation) UpdateExports() error {
	exp := filepath.Join(i.Dir, "exports")
	if err := os.MkdirAll(exp, 0o755); err != nil {
		return err
	}
	ids, _ := os.ReadDir(filepath.Join(i.Dir, "app"))
	for _, id := range ids {
		cur := filepath.Join(i.Dir, "app", id.Name(), "current", "active", "export")
		_ = filepath.WalkDir(cur, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			rel, _ := filepath.Rel(cur, p)
			link := filepath.Join(exp, rel)
			os.MkdirAll(filepath.Dir(link), 0o755)
			target, _ := filepath.Rel(filepath.Dir(link), filepath.Join(i.Dir, "app", id.Name(), "current", "active", "export", rel))
			if old, err := os.Readlink(link); err == nil && old == target {
				return nil
			}
			return atomicSymlink(target, link)
		})
	}
	_ = filepath.WalkDir(exp, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			if _, err := os.Stat(p); err != nil {
				os.Remove(p)
			}
		}
		return nil
	})
	os.WriteFile(filepath.Join(exp, ".changed"), nil, 0o644)
	return nil
}

// UninstallOptions tune Uninstall.
type UninstallOptions struct {
	// DeleteData removes ~/.var/app/ID too (DataDir).
	DeleteData bool
	DataDir    string
	// Force uninstalls a runtime apps still use.
	Force bool
	// NoPrune leaves unreachable objects for a later Prune (to uninstall
	// several refs with one prune).
	NoPrune bool
}

// Uninstall removes the deployment of r, its ref, and prunes the repository.
func (i *Installation) Uninstall(ctx context.Context, r ref.Ref, o UninstallOptions) error {
	d, err := i.Get(r)
	if err != nil {
		return err
	}
	if r.Kind == ref.Runtime && !o.Force {
		ds, _ := i.List(ref.App)
		for _, a := range ds {
			if a.Metadata != nil && "runtime/"+a.Metadata.Runtime() == r.String() {
				return fmt.Errorf("%s: %w (%s)", r, ErrInUse, a.Ref.ID)
			}
		}
	}
	base := i.refDir(r)
	if err := os.Remove(filepath.Join(base, "active")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	// Retire the deployment: deleted now, or once no sandbox runs from it.
	i.retireAll(r, "", false)
	if err := os.RemoveAll(base); err != nil {
		return fmt.Errorf("cannot uninstall %s: %w", r, err)
	}
	if r.Kind == ref.App {
		appDir := filepath.Join(i.Dir, "app", r.ID)
		if cur, err := os.Readlink(filepath.Join(appDir, "current")); err == nil && cur == r.Arch+"/"+r.Branch {
			os.Remove(filepath.Join(appDir, "current"))
		}
		os.Remove(filepath.Join(appDir, r.Arch))
		os.Remove(appDir)
		if o.DeleteData && o.DataDir != "" {
			os.RemoveAll(filepath.Join(o.DataDir, r.ID))
		}
	} else {
		os.Remove(filepath.Join(i.Dir, "runtime", r.ID, r.Arch))
		os.Remove(filepath.Join(i.Dir, "runtime", r.ID))
	}
	_ = i.repo.SetRef(ctx, "", "deploy/"+r.String(), nil)
	_ = i.repo.SetRef(ctx, d.Origin, r.String(), nil)
	if err := i.UpdateExports(); err != nil {
		return err
	}
	if !o.NoPrune {
		if err := i.Prune(ctx); err != nil {
			return err
		}
	}
	i.logHistory("uninstall", r, d.Origin, d.Commit)
	return nil
}

// Unused lists runtimes no installed app uses.
func (i *Installation) Unused() ([]ref.Ref, error) {
	apps, err := i.List(ref.App)
	if err != nil {
		return nil, err
	}
	used := map[string]bool{}
	for _, a := range apps {
		if a.Metadata != nil {
			used["runtime/"+a.Metadata.Runtime()] = true
			if s := a.Metadata.SDK(); s != "" {
				used["runtime/"+s] = false || used["runtime/"+s]
			}
		}
	}
	rts, err := i.List(ref.Runtime)
	if err != nil {
		return nil, err
	}
	var out []ref.Ref
	for _, r := range rts {
		if !used[r.Ref.String()] {
			out = append(out, r.Ref)
		}
	}
	return out, nil
}

// Prune deletes the objects no ref reaches and the files of retired
// deployments no sandbox uses, both at once.
func (i *Installation) Prune(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		i.cleanRemoved()
		close(done)
	}()
	_, err := store.Prune(ctx, i.repo, store.PruneOptions{RefsOnly: true, Depth: 0})
	<-done
	return err
}
