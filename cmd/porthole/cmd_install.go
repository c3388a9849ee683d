package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/porthole-dev/porthole/internal/progress"
	"github.com/porthole-dev/porthole/runtime/flatpakref"
	"github.com/porthole-dev/porthole/runtime/installation"
	"github.com/porthole-dev/porthole/runtime/metadata"
	"github.com/porthole-dev/porthole/runtime/ref"
)

// instFlags are --user/--system/--installation, shared by the verbs that
// work on installations.
type instFlags struct {
	user, system bool
	arch         string
}

func addInstFlags(fs *flag.FlagSet) *instFlags {
	f := &instFlags{}
	fs.BoolVar(&f.user, "user", false, "work on the user installation")
	fs.BoolVar(&f.system, "system", false, "work on the system-wide installation (default)")
	fs.StringVar(&f.arch, "arch", "", "arch to use")
	return f
}

// dirs returns the installations to look at: the chosen one, or both
// (user first) when neither was given and all is true.
func (f *instFlags) dirs(all bool) []struct{ dir, name string } {
	u := struct{ dir, name string }{userInstallation(), "user"}
	s := struct{ dir, name string }{systemInstallation(), "system"}
	switch {
	case f.user:
		return []struct{ dir, name string }{u}
	case f.system:
		return []struct{ dir, name string }{s}
	case all:
		return []struct{ dir, name string }{u, s}
	}
	return []struct{ dir, name string }{s}
}

func (f *instFlags) open(ctx context.Context) (*installation.Installation, error) {
	d := f.dirs(false)[0]
	return installation.Open(ctx, d.dir, d.name)
}

// openExisting opens the installations that exist (for list, info, …).
func (f *instFlags) openExisting(ctx context.Context) []*installation.Installation {
	var out []*installation.Installation
	for _, d := range f.dirs(true) {
		if _, err := os.Stat(filepath.Join(d.dir, "repo", "config")); err != nil {
			continue
		}
		if inst, err := installation.Open(ctx, d.dir, d.name); err == nil {
			out = append(out, inst)
		}
	}
	return out
}

func (f *instFlags) archOrNative() string {
	if f.arch != "" {
		return f.arch
	}
	return ref.NativeArch()
}

// fetchURL reads a local file or an http(s) URL.
func fetchURL(ctx context.Context, loc string) ([]byte, error) {
	if !strings.HasPrefix(loc, "http://") && !strings.HasPrefix(loc, "https://") {
		return os.ReadFile(strings.TrimPrefix(loc, "file://"))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, loc, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching %s: %s", loc, resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 1<<20))
}

// describePermissions prints an app's permissions as flatpak install does.
func describePermissions(w io.Writer, id string, md string) {
	m, err := metadata.Parse([]byte(md))
	if err != nil {
		return
	}
	kf := m.KeyFile()
	var lines []string
	if v, ok := kf.StringList("Context", "shared"); ok {
		lines = append(lines, v...)
	}
	for _, k := range []string{"sockets", "devices", "features"} {
		if v, ok := kf.StringList("Context", k); ok {
			lines = append(lines, v...)
		}
	}
	var fsys []string
	if v, ok := kf.StringList("Context", "filesystems"); ok {
		fsys = v
	}
	if len(lines) == 0 && len(fsys) == 0 && !kf.HasGroup("Session Bus Policy") && !kf.HasGroup("System Bus Policy") {
		return
	}
	fmt.Fprintf(w, "\n%s permissions:\n", id)
	if len(lines) > 0 {
		fmt.Fprintf(w, "    %s\n", strings.Join(lines, "  "))
	}
	if len(fsys) > 0 {
		fmt.Fprintf(w, "\n    file access [1]:\n")
		for _, f := range fsys {
			fmt.Fprintf(w, "      %s\n", f)
		}
	}
	for _, g := range []struct{ group, label string }{{"Session Bus Policy", "dbus access"}, {"System Bus Policy", "system dbus access"}} {
		keys := kf.Keys(g.group)
		if len(keys) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n    %s:\n", g.label)
		for _, k := range keys {
			fmt.Fprintf(w, "      %s\n", k)
		}
	}
	fmt.Fprintln(w)
}

func confirm(stdout io.Writer, yes bool, question string) bool {
	if yes {
		return true
	}
	fmt.Fprintf(stdout, "%s [Y/n]: ", question)
	line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
	line = strings.TrimSpace(strings.ToLower(line))
	return line == "" || line == "y" || line == "yes"
}

// pick completes a partial ref against a remote's refs, preferring its
// default branch when several branches match.
func pick(p ref.Partial, names []string, defBranch string) (ref.Ref, error) {
	r, err := p.Match(names)
	if errors.Is(err, ref.ErrAmbiguous) && p.Branch == "" && defBranch != "" {
		p.Branch = defBranch
		return p.Match(names)
	}
	return r, err
}

func runInstall(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newVerbFlags("install", stderr)
	inf := addInstFlags(fs)
	yes := fs.Bool("y", false, "automatically answer yes for all questions")
	fs.BoolVar(yes, "assumeyes", false, "automatically answer yes for all questions")
	nonInteractive := fs.Bool("noninteractive", false, "produce minimal output and don't ask questions")
	from := fs.Bool("from", false, "load options from a .flatpakref file")
	app := fs.Bool("app", false, "look for app with the specified name")
	rt := fs.Bool("runtime", false, "look for runtime with the specified name")
	noDeps := fs.Bool("no-deps", false, "don't verify/install runtime dependencies")
	reinstall := fs.Bool("reinstall", false, "uninstall first if already installed")
	pos, ok := parseStoreFlags(fs, args, stderr)
	if !ok {
		return 1
	}
	if *nonInteractive {
		*yes = true
	}
	if len(pos) == 0 {
		return usageFail(stderr, "install [OPTION…] [LOCATION/REMOTE] [REF…]")
	}
	inst, err := inf.open(ctx)
	if err != nil {
		return fail(stderr, err)
	}
	defer inst.Close()
	arch := inf.archOrNative()
	kind := ref.Kind("")
	if *app {
		kind = ref.App
	} else if *rt {
		kind = ref.Runtime
	}
	in := &installer{inst: inst, stdout: stdout, stderr: stderr, yes: *yes, quiet: *nonInteractive,
		noDeps: *noDeps, reinstall: *reinstall, arch: arch}
	if len(pos) == 1 && (*from || strings.HasSuffix(pos[0], ".flatpakref")) {
		if err := in.fromRef(ctx, pos[0]); err != nil {
			return fail(stderr, err)
		}
		return 0
	}
	if len(pos) < 2 {
		return usageFail(stderr, "install [OPTION…] REMOTE REF…")
	}
	remote := pos[0]
	for _, s := range pos[1:] {
		p, err := ref.ParsePartial(s, kind, "", "")
		if err != nil {
			return fail(stderr, err)
		}
		if p.Arch == "" {
			p.Arch = arch
		}
		if err := in.install(ctx, remote, p); err != nil {
			return fail(stderr, err)
		}
	}
	return 0
}

type installer struct {
	inst                          *installation.Installation
	stdout, stderr                io.Writer
	yes, quiet, noDeps, reinstall bool
	arch                          string
}

func (in *installer) install(ctx context.Context, remote string, p ref.Partial) error {
	rem, err := in.inst.Remote(remote)
	if err != nil {
		return err
	}
	_, refs, err := in.inst.FetchSummary(ctx, remote, p.Arch)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(refs))
	for n := range refs {
		names = append(names, n)
	}
	r, err := pick(p, names, rem.DefaultBranch)
	if err != nil {
		return fmt.Errorf("nothing matches %s in remote %s: %w", p.ID, remote, err)
	}
	if _, err := in.inst.Get(r); err == nil {
		if !in.reinstall {
			fmt.Fprintf(in.stderr, "%s is already installed\n", r)
			return nil
		}
		if err := in.inst.Uninstall(ctx, r, installation.UninstallOptions{Force: true}); err != nil {
			return err
		}
	}
	md := refs[r.String()].Metadata
	var deps []ref.Ref
	if r.Kind == ref.App && !in.noDeps && md != "" {
		if m, err := metadata.Parse([]byte(md)); err == nil && m.Runtime() != "" {
			if rr, err := m.RuntimeRef(); err == nil {
				if _, err := in.inst.Get(rr); err != nil {
					deps = append(deps, rr)
				}
			}
		}
	}
	if r.Kind == ref.App && !in.quiet {
		describePermissions(in.stdout, r.ID, md)
	}
	if !in.quiet {
		for k, d := range append(deps, r) {
			fmt.Fprintf(in.stdout, "%3d. %s\t%s\t%s\t%s\n", k+1, d.ID, d.Branch, remote, progress.FormatBytes(int64(refs[d.String()].DownloadSize)))
		}
	}
	if !confirm(in.stdout, in.yes, fmt.Sprintf("Proceed with these changes to the %s installation?", in.inst.Name)) {
		return errors.New("cancelled")
	}
	for _, d := range deps {
		depRemote := remote
		if _, ok := refs[d.String()]; !ok {
			depRemote = in.findRemoteFor(ctx, d)
			if depRemote == "" {
				return fmt.Errorf("the application %s requires the runtime %s which was not found", r.ID, d.Pref())
			}
		}
		var dr installation.RemoteRef
		if depRemote == remote {
			dr = refs[d.String()]
		}
		if err := in.pull(ctx, depRemote, d, dr); err != nil {
			return err
		}
	}
	return in.pull(ctx, remote, r, refs[r.String()])
}

func (in *installer) findRemoteFor(ctx context.Context, r ref.Ref) string {
	for _, rem := range in.inst.Remotes() {
		if _, refs, err := in.inst.FetchSummary(ctx, rem.Name, r.Arch); err == nil {
			if _, ok := refs[r.String()]; ok {
				return rem.Name
			}
		}
	}
	return ""
}

func (in *installer) pull(ctx context.Context, remote string, r ref.Ref, rr installation.RemoteRef) error {
	var bar *progress.Bar
	if !in.quiet {
		bar = progress.New(in.stderr, "Installing "+r.ID, progress.Options{})
	}
	_, err := in.inst.Install(ctx, remote, r, installation.InstallOptions{Progress: bar, ExpectMetadata: rr.Metadata, Commit: rr.Commit})
	bar.Done()
	if errors.Is(err, installation.ErrAlreadyInstalled) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("installing %s: %w", r, err)
	}
	if !in.quiet {
		fmt.Fprintf(in.stdout, "Installed %s\n", r)
	}
	return nil
}

// fromRef installs from a .flatpakref file or URL, adding its remote (and
// the RuntimeRepo's) when no remote with that URL exists.
func (in *installer) fromRef(ctx context.Context, loc string) error {
	data, err := fetchURL(ctx, loc)
	if err != nil {
		return err
	}
	fr, err := flatpakref.ParseRef(data)
	if err != nil {
		return err
	}
	remote, ok := in.inst.RemoteByURL(fr.URL)
	if !ok {
		remote = fr.SuggestRemoteName
		if remote == "" {
			remote = strings.ToLower(strings.ReplaceAll(fr.Name, ".", "-")) + "-origin"
		}
		err := in.inst.AddRemote(ctx, remote, fr.URL, installation.RemoteOptions{NoGPGVerify: len(fr.GPGKey) == 0,
			GPGKey: fr.GPGKey, Title: fr.Title, IfNotExists: true})
		if err != nil {
			return err
		}
	}
	if fr.RuntimeRepo != "" {
		if rd, err := fetchURL(ctx, fr.RuntimeRepo); err == nil {
			if rr, err := flatpakref.ParseRepo(rd); err == nil {
				if _, ok := in.inst.RemoteByURL(rr.URL); !ok {
					name := runtimeRepoName(fr.RuntimeRepo)
					_ = in.inst.AddRemote(ctx, name, rr.URL, installation.RemoteOptions{NoGPGVerify: len(rr.GPGKey) == 0,
						GPGKey: rr.GPGKey, Title: rr.Title, DefaultBranch: rr.DefaultBranch, IfNotExists: true})
				}
			}
		}
	}
	r := fr.Ref(in.arch)
	return in.install(ctx, remote, ref.Partial(r))
}

func runtimeRepoName(u string) string {
	b := filepath.Base(strings.TrimSuffix(u, "/"))
	b = strings.TrimSuffix(b, ".flatpakrepo")
	if b == "" || b == "." {
		return "runtime-origin"
	}
	return b
}
