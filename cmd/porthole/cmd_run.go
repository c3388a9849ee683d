package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/porthole-dev/porthole/internal/runspec"
	"github.com/porthole-dev/porthole/launcher"
	"github.com/porthole-dev/porthole/runtime/installation"
	"github.com/porthole-dev/porthole/runtime/metadata"
	"github.com/porthole-dev/porthole/runtime/permissions"
	"github.com/porthole-dev/porthole/runtime/ref"
	"golang.org/x/term"
)

// The porthole binary can serve as its own sandbox helper when
// porthole-init is not installed next to it.
func init() { launcher.MaybeInit() }

// userInstallation returns $PORTHOLE_USER_DIR, else
// $XDG_DATA_HOME/porthole, else ~/.local/share/porthole.
func userInstallation() string {
	if d := os.Getenv("PORTHOLE_USER_DIR"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "porthole")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".local", "share", "porthole")
}

// systemInstallation returns $PORTHOLE_SYSTEM_DIR, else /var/lib/porthole.
func systemInstallation() string {
	if d := os.Getenv("PORTHOLE_SYSTEM_DIR"); d != "" {
		return d
	}
	return "/var/lib/porthole"
}

// addContextFlags registers the permission options on fs, applying them
// to c in command-line order.
func addContextFlags(fs *flag.FlagSet, c *permissions.Context) {
	for _, name := range permissions.Options {
		fs.Func(name, "permission option (see flatpak-run(1))", func(v string) error { return c.ApplyOption(name, v) })
	}
	fs.Func("env-fd", "read environment variables in env -0 format from FD", func(v string) error {
		fd, err := strconv.Atoi(v)
		if err != nil || fd < 0 {
			return fmt.Errorf("not a valid file descriptor: %s", v)
		}
		f := os.NewFile(uintptr(fd), "env-fd")
		data, err := io.ReadAll(f)
		if fd >= 3 {
			f.Close()
		}
		if err != nil {
			return err
		}
		return c.ParseEnvBlock(data)
	})
	fs.Bool("no-desktop", false, "deprecated, ignored")
}

// parseRef splits ID/ARCH/BRANCH (from metadata runtime= or --runtime).
func parseRef(s string) (id, arch, branch string) {
	parts := strings.SplitN(s, "/", 3)
	id = parts[0]
	if len(parts) > 1 {
		arch = parts[1]
	}
	if len(parts) > 2 {
		branch = parts[2]
	}
	return
}

func loadMetadataContext(data []byte) (*permissions.Context, *permissions.KeyFile, error) {
	kf, err := permissions.ParseKeyFile(data)
	if err != nil {
		return nil, nil, err
	}
	c := permissions.New()
	if err := c.LoadMetadata(kf); err != nil {
		return nil, nil, err
	}
	return c, kf, nil
}

func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage:\n  porthole run [OPTION…] APP [ARGUMENT…]")
		fs.PrintDefaults()
	}
	cli := permissions.New()
	addContextFlags(fs, cli)
	command := fs.String("command", "", "command to run")
	cwd := fs.String("cwd", "", "directory to run the command in")
	devel := fs.Bool("devel", false, "use development runtime and allow ptrace")
	fs.BoolVar(devel, "d", false, "short for --devel")
	sandbox := fs.Bool("sandbox", false, "run completely sandboxed")
	dieWithParent := fs.Bool("die-with-parent", false, "kill the sandbox when porthole exits")
	fs.BoolVar(dieWithParent, "p", false, "short for --die-with-parent")
	runtimeRef := fs.String("runtime", "", "runtime to use (ID[/ARCH[/BRANCH]])")
	runtimeVersion := fs.String("runtime-version", "", "runtime branch to use")
	branch := fs.String("branch", "", "app branch to use")
	arch := fs.String("arch", "", "arch to use")
	userOnly := fs.Bool("user", false, "look in the user installation only")
	systemOnly := fs.Bool("system", false, "look in the system installation only")
	appPath := fs.String("app-path", "", "use PATH as the app's files instead of the installed ones")
	usrPath := fs.String("usr-path", "", "use PATH as the runtime's files instead of the installed ones")
	fileForwarding := fs.Bool("file-forwarding", false, "forward @@ … @@ file arguments")
	appCommit := fs.String("commit", "", "run this deployed commit of the app")
	runtimeCommit := fs.String("runtime-commit", "", "use this deployed commit of the runtime")
	noDocs := fs.Bool("no-documents-portal", false, "don't start or use the document portal")
	a11y := -1 // default: proxied unless --sandbox
	fs.BoolFunc("a11y-bus", "proxy accessibility bus calls (default except when sandboxed)", func(string) error { a11y = 1; return nil })
	fs.BoolFunc("no-a11y-bus", "don't proxy accessibility bus calls", func(string) error { a11y = 0; return nil })
	for _, n := range []string{"no-session-bus", "session-bus", "log-session-bus", "log-system-bus", "log-a11y-bus", "parent-expose-pids", "parent-share-pids"} {
		fs.Bool(n, false, "accepted for compatibility")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 1
	}
	if fs.NArg() < 1 {
		fmt.Fprintln(stderr, "error: APP must be specified")
		return 1
	}
	appID := fs.Arg(0)
	appArgs := fs.Args()[1:]
	// The document portal and the accessibility bus answer (the portal
	// may be activated) while the app is looked up.
	if a11y == -1 {
		a11y = map[bool]int{true: 0, false: 1}[*sandbox]
	}
	// The systemd scope is asked for meanwhile too; the sandbox starts
	// once it is joined (or refused), so that it lands in it.
	scopeSock := os.Getenv("PORTHOLE_SYSTEMD_PRIVATE") // tests
	if scopeSock == "" {
		scopeSock = runspec.SystemdPrivateSocket(os.Getuid())
	}
	scope := make(chan error, 1)
	go func() { scope <- runspec.JoinScope(ctx, scopeSock, appID, os.Getpid()) }()
	wantDocs := !*sandbox && !*noDocs
	var session *runspec.Session
	if wantDocs || a11y == 1 {
		session = runspec.StartSession(ctx, os.Environ(), wantDocs, a11y == 1)
		defer session.Close()
	}
	userDir, systemDir := userInstallation(), systemInstallation()
	insts := []string{userDir, systemDir}
	if *userOnly {
		insts = []string{userDir}
	} else if *systemOnly {
		insts = []string{systemDir}
	}

	// The app.
	in := runspec.Input{AppID: appID, Devel: *devel, Sandbox: *sandbox, DieWithParent: *dieWithParent,
		Command: *command, Args: appArgs, Cwd: *cwd, CommandLine: cli, FileForwarding: *fileForwarding}
	if wantDocs {
		in.Documents = session
	}
	if a11y == 1 {
		in.A11y = session
	}
	var appMeta []byte
	var appInst string
	if d, err := installation.FindDeployed(insts, ref.App, appID, *arch, *branch, *appCommit); err == nil {
		appMeta, err = d.MetadataBytes()
		if err != nil {
			fmt.Fprintf(stderr, "error: %v\n", err)
			return 1
		}
		in.AppFiles, in.AppCommit, in.Arch, in.Branch, appInst = d.Files(), d.Commit, d.Ref.Arch, d.Ref.Branch, d.Installation
	} else if *appPath == "" || *appCommit != "" {
		fmt.Fprintf(stderr, "error: %v\n", err)
		return 1
	} else {
		in.Arch, in.Branch = orDefault(*arch, ref.NativeArch()), orDefault(*branch, "master")
		appMeta, _ = os.ReadFile(filepath.Join(filepath.Dir(filepath.Clean(*appPath)), "metadata"))
	}
	if *appPath != "" {
		in.OriginalAppFiles = in.AppFiles
		in.AppFiles = *appPath
	}
	appCtx, appKF, err := loadMetadataContext(appMeta)
	if err != nil {
		fmt.Fprintf(stderr, "error: app metadata: %v\n", err)
		return 1
	}
	in.MetadataCommand, _ = appKF.String("Application", "command")

	// The runtime.
	rref, _ := appKF.String("Application", "runtime")
	if *devel {
		if sdk, ok := appKF.String("Application", "sdk"); ok {
			rref = sdk
		}
	}
	if *runtimeRef != "" {
		rref = *runtimeRef
	}
	rid, rarch, rbranch := parseRef(rref)
	if *runtimeVersion != "" {
		rbranch = *runtimeVersion
	}
	rarch = orDefault(rarch, in.Arch)
	var runtimeCtx *permissions.Context
	if *usrPath != "" {
		in.RuntimeFiles = *usrPath
		if rid == "" {
			rid, rbranch = "org.porthole.Host", "master"
		}
	} else {
		// As Flatpak: the user installation, then the system one,
		// whatever --user/--system said for the app.
		d, err := installation.FindDeployed([]string{userDir, systemDir}, ref.Runtime, rid, rarch, rbranch, *runtimeCommit)
		if err != nil {
			fmt.Fprintf(stderr, "error: %v\n", err)
			return 1
		}
		in.RuntimeFiles, in.RuntimeCommit, rbranch = d.Files(), d.Commit, d.Ref.Branch
		if data, err := d.MetadataBytes(); err == nil {
			runtimeCtx, _, _ = loadMetadataContext(data)
			in.RuntimeExtensions = extensionsOf([]string{userDir, systemDir}, data, rarch, rbranch)
		}
	}
	if in.AppFiles != "" {
		in.AppExtensions = extensionsOf([]string{userDir, systemDir}, appMeta, in.Arch, in.Branch)
	}
	in.RuntimeRef = fmt.Sprintf("runtime/%s/%s/%s", rid, rarch, orDefault(rbranch, "master"))

	// Permissions: runtime env → app → system overrides → user overrides → --sandbox → CLI.
	layers := permissions.Layers{Runtime: runtimeCtx, App: appCtx, Sandbox: *sandbox, CommandLine: cli}
	for _, o := range []struct {
		dir string
		dst **permissions.Context
		app string
	}{{systemDir, &layers.SystemGlobal, ""}, {systemDir, &layers.SystemApp, appID}, {userDir, &layers.UserGlobal, ""}, {userDir, &layers.UserApp, appID}} {
		if o.dir == systemDir && appInst == userDir {
			continue // as Flatpak: system overrides only for system apps
		}
		c, err := permissions.LoadOverride(ctx, permissions.OverridePath(o.dir, o.app))
		if err != nil {
			fmt.Fprintf(stderr, "error: %v\n", err)
			return 1
		}
		*o.dst = c
	}
	in.Context = permissions.Effective(layers)

	host, err := currentHost()
	if err != nil {
		fmt.Fprintf(stderr, "error: %v\n", err)
		return 1
	}
	t0 := time.Now()
	trace := os.Getenv("PORTHOLE_TRACE") != ""
	if *appPath == "" && *usrPath == "" {
		in.LdCache = func(ctx context.Context, spec *launcher.Spec) (int, error) {
			return launcher.Run(ctx, spec, launcher.Options{Stdout: stderr, Stderr: stderr})
		}
	}
	res, err := runspec.Build(ctx, in, host)
	if session != nil {
		session.Close()
	}
	if trace {
		fmt.Fprintf(stderr, "trace: build %v\n", time.Since(t0))
	}
	if err != nil {
		fmt.Fprintf(stderr, "error: %v\n", err)
		return 1
	}
	for _, n := range res.Notices {
		fmt.Fprintf(stderr, "porthole: %s\n", n)
	}
	if os.Getenv("PORTHOLE_DEBUG") != "" {
		for _, w := range res.Warnings {
			fmt.Fprintf(stderr, "porthole: %s\n", w)
		}
	}
	if out := os.Getenv("PORTHOLE_SPEC_OUT"); out != "" {
		// Benchmarks and debugging: write the sandbox spec, do not run it.
		data, _ := json.MarshalIndent(res.Spec, "", "  ")
		if err := os.WriteFile(out, data, 0o644); err != nil {
			fmt.Fprintf(stderr, "error: %v\n", err)
			return 1
		}
		return 0
	}
	defer os.RemoveAll(res.InstanceDir)
	if err := <-scope; err != nil && os.Getenv("PORTHOLE_DEBUG") != "" {
		fmt.Fprintf(stderr, "porthole: not in a systemd scope: %v\n", err)
	}
	t1 := time.Now()
	// As with Flatpak: pid is the launching process, child-pid the
	// sandbox's pid 1; both are written before the command runs.
	onFork := func(pid int) {
		os.WriteFile(filepath.Join(res.InstanceDir, "pid"), []byte(strconv.Itoa(os.Getpid())), 0o644)
		info, _ := json.Marshal(map[string]int{"child-pid": pid})
		os.WriteFile(filepath.Join(res.InstanceDir, "bwrapinfo.json"), append(info, '\n'), 0o644)
	}
	p, err := launcher.Start(ctx, res.Spec, launcher.Options{Stdin: os.Stdin, Stdout: stdout, Stderr: stderr, OnFork: onFork})
	if trace {
		fmt.Fprintf(stderr, "trace: start %v\n", time.Since(t1))
		defer func() { fmt.Fprintf(stderr, "trace: total %v\n", time.Since(t0)) }()
	}
	if err != nil {
		fmt.Fprintf(stderr, "error: %v\n", err)
		return 1
	}

	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
	defer signal.Stop(sigs)
	tty := term.IsTerminal(int(os.Stdin.Fd()))
	go func() {
		for s := range sigs {
			if tty && (s == syscall.SIGINT || s == syscall.SIGQUIT) {
				continue // the terminal sent it to the whole group
			}
			p.Signal(s)
		}
	}()
	code, err := p.Wait()
	if err != nil {
		fmt.Fprintf(stderr, "error: %v\n", err)
		return 1
	}
	return code
}

// extensionsOf resolves the extension points of a metadata file for a
// ref of arch and branch to the installed extensions to mount.
func extensionsOf(dirs []string, data []byte, arch, branch string) []runspec.Extension {
	md, err := metadata.Parse(data)
	if err != nil {
		return nil
	}
	var out []runspec.Extension
	for _, e := range installation.ListExtensions(dirs, md, arch, branch) {
		out = append(out, runspec.Extension{ID: e.InstalledID, Commit: e.Commit, Files: e.Files, Dir: e.Directory,
			SubdirSuffix: e.SubdirSuffix, AddLdPath: e.AddLdPath, MergeDirs: e.MergeDirs, NeedsTmpfs: e.NeedsTmpfs})
	}
	return out
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func currentHost() (runspec.Host, error) {
	uid, gid := os.Getuid(), os.Getgid()
	h := runspec.Host{UID: uid, GID: gid, Env: os.Environ(), User: strconv.Itoa(uid), Group: strconv.Itoa(gid)}
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		h.User, h.Home = u.Username, u.HomeDir
		h.RealName, _, _ = strings.Cut(u.Name, ",")
	}
	if g, err := user.LookupGroupId(strconv.Itoa(gid)); err == nil {
		h.Group = g.Name
	}
	if home := os.Getenv("HOME"); home != "" {
		h.Home = home
	}
	h.RuntimeDir = os.Getenv("XDG_RUNTIME_DIR")
	if h.RuntimeDir == "" {
		h.RuntimeDir = fmt.Sprintf("/run/user/%d", uid)
	}
	if fi, err := os.Stat(h.RuntimeDir); err != nil || !fi.IsDir() {
		return h, fmt.Errorf("XDG_RUNTIME_DIR %s is not usable", h.RuntimeDir)
	}
	h.Hostname, _ = os.Hostname()
	return h, nil
}
