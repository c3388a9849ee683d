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
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"golang.org/x/term"

	"github.com/porthole-dev/porthole/internal/progress"
	"github.com/porthole-dev/porthole/runtime/flatpakref"
	"github.com/porthole-dev/porthole/runtime/installation"
	"github.com/porthole-dev/porthole/runtime/metadata"
	"github.com/porthole-dev/porthole/runtime/permissions"
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

// describePermissions prints the permissions an app asks for as flatpak
// install does: the shared/sockets/devices/features values and numbered
// footnotes for files, bus names, USB devices and tags, tab-separated rows
// of at least four columns (aligned on a terminal). With oldMD (an
// update) only new permissions are shown, under "New ID permissions:".
func describePermissions(w io.Writer, id, md, oldMD string) {
	perms, footnotes := newPermissions(md, oldMD)
	if len(perms) == 0 {
		return
	}
	printPermissions(w, id, oldMD != "", perms, footnotes)
}

// newPermissions lists what metadata md asks for and oldMD did not: the
// permission names (with "file access [1]"-style references) and the
// footnotes they refer to.
func newPermissions(md, oldMD string) (perms []string, footnotes [][]string) {
	m, err := metadata.Parse([]byte(md))
	if err != nil {
		return nil, nil
	}
	kf := m.KeyFile()
	var okf *permissions.KeyFile
	if oldMD != "" {
		if om, err := metadata.Parse([]byte(oldMD)); err == nil {
			okf = om.KeyFile()
		}
	}
	list := func(k *permissions.KeyFile, group, key string) []string {
		if k == nil {
			return nil
		}
		v, _ := k.StringList(group, key)
		return v
	}
	fresh := func(group, key string, sorted bool, each func(string)) {
		vs := append([]string(nil), list(kf, group, key)...)
		if sorted {
			sort.Strings(vs)
		}
		old := list(okf, group, key)
		for _, v := range vs {
			if !slices.Contains(old, v) {
				each(v)
			}
		}
	}
	var files, usb, tags []string
	for _, k := range []string{"shared", "sockets", "devices", "features"} {
		fresh("Context", k, true, func(v string) {
			switch {
			case strings.HasPrefix(v, "!"):
			case k == "devices" && v == "all":
				perms = append(perms, "devices")
			default:
				perms = append(perms, v)
			}
		})
	}
	fresh("Context", "filesystems", true, func(v string) {
		if !strings.HasPrefix(v, "!") {
			files = append(files, v)
		}
	})
	fresh("USB Devices", "enumerable-devices", false, func(v string) { usb = append(usb, v) })
	fresh("USB Devices", "hidden-devices", false, func(v string) { usb = append(usb, "!"+v) })
	fresh("Application", "tags", false, func(v string) { tags = append(tags, v) })
	bus := func(group string) (talk, own []string) {
		keys := append([]string(nil), kf.Keys(group)...)
		sort.Strings(keys)
		for _, k := range keys {
			v, _ := kf.String(group, k)
			if v == "none" {
				continue
			}
			if okf != nil {
				if ov, ok := okf.String(group, k); ok && ov == v {
					continue
				}
			}
			if v == "own" {
				own = append(own, k)
			} else {
				talk = append(talk, k)
			}
		}
		return talk, own
	}
	sTalk, sOwn := bus("Session Bus Policy")
	yTalk, yOwn := bus("System Bus Policy")
	notes := []struct {
		label string
		items []string
	}{{"file access", files}, {"dbus access", sTalk}, {"bus ownership", sOwn},
		{"system dbus access", yTalk}, {"system bus ownership", yOwn}, {"USB portal access", usb}, {"tags", tags}}
	for _, n := range notes {
		if len(n.items) > 0 {
			footnotes = append(footnotes, n.items)
			perms = append(perms, fmt.Sprintf("%s [%d]", n.label, len(footnotes)))
		}
	}
	return perms, footnotes
}

// printPermissions prints them as flatpak's CLI transaction does, rows of
// at least four columns, footnotes wrapped at the terminal width (80 when
// not a terminal).
func printPermissions(w io.Writer, id string, update bool, perms []string, footnotes [][]string) {
	cols, tty := 80, false
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		tty = true
		if c, _, err := term.GetSize(int(f.Fd())); err == nil && c > 0 {
			cols = c
		}
	}
	title := id + " permissions:"
	if update {
		title = "New " + title
	}
	fmt.Fprintf(w, "\n%s\n", title)
	widest := 0
	for _, p := range perms {
		widest = max(widest, len(p))
	}
	perRow := max(4, cols/(widest+4))
	var rows [][]string
	for k, p := range perms {
		if k%perRow == 0 {
			rows = append(rows, []string{"    " + p})
		} else {
			rows[len(rows)-1] = append(rows[len(rows)-1], p)
		}
	}
	printTable(w, rows, tty)
	fmt.Fprint(w, "\n\n")
	for k, items := range footnotes {
		line := fmt.Sprintf("    [%d] %s", k+1, items[0])
		for _, it := range items[1:] {
			last := line[strings.LastIndexByte(line, '\n')+1:]
			if len(last)+len(it)+2 >= cols {
				line += ",\n        " + it
			} else {
				line += ", " + it
			}
		}
		fmt.Fprintln(w, line)
	}
}

// printTable prints rows as flatpak's table printer does: cells separated
// by tabs, or padded to their column's width on a terminal; the last row
// is not ended.
func printTable(w io.Writer, rows [][]string, tty bool) {
	var widths []int
	for _, r := range rows {
		for k, c := range r {
			if k >= len(widths) {
				widths = append(widths, 0)
			}
			widths[k] = max(widths[k], utf8.RuneCountInString(c))
		}
	}
	for n, r := range rows {
		if n > 0 {
			fmt.Fprintln(w)
		}
		var b strings.Builder
		for k, c := range r {
			b.WriteString(c)
			if k < len(r)-1 {
				if tty {
					b.WriteString(strings.Repeat(" ", widths[k]-utf8.RuneCountInString(c)+1))
				} else {
					b.WriteByte('\t')
				}
			}
		}
		fmt.Fprint(w, strings.TrimRight(b.String(), " "))
	}
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
	noRelated := fs.Bool("no-related", false, "don't install related refs")
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
		noDeps: *noDeps, noRelated: *noRelated, reinstall: *reinstall, arch: arch}
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
	noRelated                     bool
	arch                          string
}

// planOp is one ref an install or update transaction pulls.
type planOp struct {
	r      ref.Ref
	remote string
	rr     installation.RemoteRef
	op     string // "i" install, "u" update, "r" uninstall (rebase)
	oldMD  string // metadata of the deployment an update replaces
	// prevIDs are the ids an end-of-life rebase replaces (deploy file
	// previous-ids).
	prevIDs []string
}

func (in *installer) install(ctx context.Context, remote string, p ref.Partial) error {
	rem, err := in.inst.Remote(remote)
	if err != nil {
		return err
	}
	if !in.quiet {
		fmt.Fprintln(in.stdout, "Looking for matches…")
	}
	_, refs, err := in.inst.FetchSummary(ctx, remote, p.Arch)
	if err != nil {
		return err
	}
	names := refNames(refs)
	r, err := pick(p, names, rem.DefaultBranch)
	if err != nil {
		return fmt.Errorf("nothing matches %s in remote %s: %w", p.ID, remote, err)
	}
	if _, err := in.inst.Get(r); err == nil {
		if !in.reinstall {
			fmt.Fprintf(in.stderr, "%s is already installed\n", r)
			return in.inst.Tidy(r)
		}
		if err := in.inst.Uninstall(ctx, r, installation.UninstallOptions{Force: true}); err != nil {
			return err
		}
	}
	main := planOp{r: r, remote: remote, rr: refs[r.String()], op: "i"}
	// Flatpak's order: the app's related refs, the runtime's, the
	// runtime, the app.
	var plan, deps []planOp
	if !in.noRelated {
		plan = in.related(main, refs)
	}
	if r.Kind == ref.App && !in.noDeps && main.rr.Metadata != "" {
		if m, err := metadata.Parse([]byte(main.rr.Metadata)); err == nil && m.Runtime() != "" {
			if rr, err := m.RuntimeRef(); err == nil {
				if _, err := in.inst.Get(rr); err != nil {
					dep := planOp{r: rr, remote: remote, rr: refs[rr.String()], op: "i"}
					depRefs := refs
					if _, ok := refs[rr.String()]; !ok {
						dep.remote, depRefs = in.findRemoteFor(ctx, rr)
						if dep.remote == "" {
							return fmt.Errorf("the application %s requires the runtime %s which was not found", r.ID, rr.Pref())
						}
						dep.rr = depRefs[rr.String()]
					}
					if !in.quiet {
						fmt.Fprintf(in.stdout, "Required runtime for %s (%s) found in remote %s\n", r.Pref(), rr, dep.remote)
					}
					if !in.noRelated {
						deps = in.related(dep, depRefs)
					}
					deps = append(deps, dep)
				}
			}
		}
	}
	plan = append(append(plan, deps...), main)
	if err := in.confirmPlan(plan); err != nil {
		return err
	}
	return in.run(ctx, plan)
}

// refNames lists the names of a remote's refs.
func refNames(refs map[string]installation.RemoteRef) []string {
	names := make([]string, 0, len(refs))
	for n := range refs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// related returns install operations for the extensions of op that are
// downloaded with it (Flatpak's related refs: .Locale, not .Debug) and
// not installed yet, and, when op is an update, updates of the installed
// ones that changed.
func (in *installer) related(op planOp, refs map[string]installation.RemoteRef) []planOp {
	m, err := metadata.Parse([]byte(op.rr.Metadata))
	if err != nil {
		return nil
	}
	var out []planOp
	for _, rel := range installation.RelatedRefs(m, op.r, refNames(refs)) {
		if !rel.Download {
			continue
		}
		rr := refs[rel.Ref.String()]
		if d, err := in.inst.Get(rel.Ref); err == nil {
			// Installed: an update brings it up to date too.
			if op.op == "u" && d.Commit != rr.Commit {
				out = append(out, planOp{r: rel.Ref, remote: d.Origin, rr: rr, op: "u", oldMD: string(d.MetadataBytes)})
			}
			continue
		}
		out = append(out, planOp{r: rel.Ref, remote: op.remote, rr: rr, op: "i"})
	}
	return out
}

// confirmPlan shows, as flatpak does, the permissions of the apps, any
// end-of-life notice, and the numbered operations, then asks.
func (in *installer) confirmPlan(plan []planOp) error {
	if in.quiet {
		return nil
	}
	for _, op := range plan {
		if op.op != "r" && op.rr.EOLRebase == "" && op.rr.EOL != "" {
			in.printEOL(op.r, op.rr.EOL, "")
		}
	}
	for _, op := range plan {
		if op.r.Kind == ref.App && op.op != "r" {
			describePermissions(in.stdout, op.r.ID, op.rr.Metadata, op.oldMD)
		}
	}
	fmt.Fprintln(in.stdout)
	showArch := false
	for _, op := range plan {
		showArch = showArch || op.r.Arch != ref.NativeArch()
	}
	var rows [][]string
	for k, op := range plan {
		row := []string{fmt.Sprintf("%2d.", k+1), "   ", op.r.ID}
		if showArch {
			row = append(row, op.r.Arch)
		}
		row = append(row, op.r.Branch, op.op)
		if op.op != "r" {
			size := glibSize(op.rr.DownloadSize)
			if op.rr.DownloadSize > 0 {
				size = "< " + size
			}
			row = append(row, op.remote, size)
		}
		rows = append(rows, row)
	}
	fmt.Fprintln(in.stdout)
	printTable(in.stdout, rows, progress.IsTerminal(in.stdout))
	fmt.Fprintln(in.stdout)
	if in.yes {
		fmt.Fprint(in.stdout, "\n\n")
		return nil
	}
	fmt.Fprintln(in.stdout)
	if !confirm(in.stdout, false, fmt.Sprintf("Proceed with these changes to the %s installation?", in.inst.Name)) {
		return errors.New("cancelled")
	}
	return nil
}

// glibSize formats n as g_format_size does (a no-break space before
// units other than bytes).
func glibSize(n uint64) string {
	s := progress.FormatBytes(int64(n))
	if !strings.HasSuffix(s, "bytes") && !strings.HasSuffix(s, "byte") {
		s = strings.Replace(s, " ", "\u00a0", 1)
	}
	return s
}

// printEOL prints flatpak's notice for an end-of-life ref, and for a
// runtime without a replacement the installed apps using it.
func (in *installer) printEOL(r ref.Ref, eol, rebase string) {
	w := in.stdout
	kind := "app"
	if r.Kind == ref.Runtime {
		kind = "runtime"
	}
	switch {
	case rebase != "":
		nr, err := ref.Parse(rebase)
		if err != nil {
			return
		}
		fmt.Fprintf(w, "\nInfo: %s %s branch %s is end-of-life, in favor of %s branch %s\n", kind, r.ID, r.Branch, nr.ID, nr.Branch)
	case eol != "":
		fmt.Fprintf(w, "\nInfo: %s %s branch %s is end-of-life, with reason:\n   %s\n", kind, r.ID, r.Branch, eol)
		if r.Kind != ref.Runtime {
			return
		}
		var users []string
		apps, _ := in.inst.List(ref.App)
		for _, a := range apps {
			if a.Metadata != nil && a.Metadata.Runtime() == r.Pref() {
				users = append(users, a.Ref.ID)
			}
		}
		if len(users) > 0 {
			fmt.Fprintf(w, "Info: applications using this runtime:\n   %s\n", strings.Join(users, ", "))
		}
	}
}

// run pulls and deploys each operation in order.
func (in *installer) run(ctx context.Context, plan []planOp) error {
	for k, op := range plan {
		if err := in.pull(ctx, op, k+1, len(plan)); err != nil {
			return err
		}
	}
	if !in.quiet {
		fmt.Fprintln(in.stdout, doneMessage(plan))
	}
	return nil
}

// doneMessage is flatpak's last line for a transaction of plan.
func doneMessage(plan []planOp) string {
	kinds := map[string]bool{}
	for _, op := range plan {
		kinds[op.op] = true
	}
	switch {
	case len(kinds) > 1:
		return "Changes complete."
	case kinds["u"]:
		return "Updates complete."
	}
	return "Installation complete."
}

func (in *installer) findRemoteFor(ctx context.Context, r ref.Ref) (string, map[string]installation.RemoteRef) {
	for _, rem := range in.inst.Remotes() {
		if _, refs, err := in.inst.FetchSummary(ctx, rem.Name, r.Arch); err == nil {
			if _, ok := refs[r.String()]; ok {
				return rem.Name, refs
			}
		}
	}
	return "", nil
}

func (in *installer) pull(ctx context.Context, op planOp, n, total int) error {
	var bar *progress.Bar
	verb := "Installing"
	if op.op == "u" {
		verb = "Updating"
	}
	if !in.quiet {
		bar = progress.New(in.stderr, fmt.Sprintf("%s %d/%d %s", verb, n, total, op.r.ID), progress.Options{})
	}
	o := installation.InstallOptions{Progress: bar, ExpectMetadata: op.rr.Metadata, Commit: op.rr.Commit, PreviousIDs: op.prevIDs}
	var err error
	if op.op == "r" {
		bar.Done()
		return in.inst.Uninstall(ctx, op.r, installation.UninstallOptions{})
	}
	if op.op == "u" {
		_, _, err = in.inst.Update(ctx, op.r, o)
	} else {
		_, err = in.inst.Install(ctx, op.remote, op.r, o)
	}
	bar.Done()
	if errors.Is(err, installation.ErrAlreadyInstalled) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", strings.ToLower(verb), op.r, err)
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
