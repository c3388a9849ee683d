package runspec

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/porthole-dev/porthole/internal/appinfo"
	"github.com/porthole-dev/porthole/launcher"
	"github.com/porthole-dev/porthole/runtime/permissions"
)

// FlatpakVersion is the Flatpak version we present as, in
// /.flatpak-info.
const FlatpakVersion = "1.14.10"

// ErrInput reports an Input that cannot be built.
var ErrInput = errors.New("cannot build sandbox")

// Input is a resolved app run.
type Input struct {
	AppID, Arch, Branch string
	// AppFiles is the app's files directory; empty runs the runtime
	// itself (the [Runtime] form of /.flatpak-info).
	AppFiles, AppCommit string
	// OriginalAppFiles is the deployed app's files when AppFiles replaces
	// them (run --app-path); it is bound at /run/parent/app.
	OriginalAppFiles                        string
	RuntimeRef, RuntimeFiles, RuntimeCommit string
	// MetadataCommand is [Application] command.
	MetadataCommand string
	// Context is the effective merged context; CommandLine the run
	// command line's own context (for extra-args), or nil.
	Context, CommandLine *permissions.Context
	Command              string
	Args                 []string
	Cwd                  string
	Devel, Sandbox       bool
	DieWithParent        bool
	// LdCache runs ldconfig sandboxes; nil disables the generated
	// ld.so.cache (LD_LIBRARY_PATH=/app/lib is used instead).
	LdCache LdCacheRunner
	// Documents is the document portal (nil: none): its per-app view
	// is bound at /run/flatpak/doc, and with FileForwarding the files
	// between @@ markers in Args are exported through it.
	Documents      Documents
	FileForwarding bool
	// A11y finds the accessibility bus, proxied into the sandbox with
	// Flatpak's policy (nil: none, as run --no-a11y-bus).
	A11y A11yBus
	// AppExtensions and RuntimeExtensions are mounted under /app and
	// /usr, each list in priority order.
	AppExtensions, RuntimeExtensions []Extension
}

// Host describes the calling user and machine.
type Host struct {
	UID, GID    int
	User, Group string
	RealName    string
	Home        string
	Env         []string
	RuntimeDir  string // the real XDG_RUNTIME_DIR
	Hostname    string
}

// Result is a built sandbox.
type Result struct {
	Spec        *launcher.Spec
	Info        *appinfo.Info
	InstanceID  string
	InstanceDir string
	// Warnings are grants that were skipped (reserved or unexportable
	// paths, missing sockets); Flatpak logs them and goes on.
	Warnings []string
	// PerAppLock is a descriptor holding the shared lock on the per-app
	// directories (-1 under --sandbox); the caller keeps it open while
	// the sandbox runs (the process exiting releases it).
	PerAppLock int
	// Locks are descriptors holding read locks for as long as the sandbox
	// runs: on the .ref of the instance directory and of every deployment
	// it uses (deploylock.go). The caller keeps them open, as PerAppLock.
	Locks []int
	// Notices are messages Flatpak prints in any case (file forwarding
	// without a document portal).
	Notices []string
}

type builder struct {
	in      Input
	host    Host
	ctx     *permissions.Context
	mounts  []launcher.Mount
	env     envList
	warn    []string
	appDir  string // ~/.var/app/ID
	sboxRun string // /run/user/UID
	xdgRun  string // host: $XDG_RUNTIME_DIR/.flatpak/ID/xdg-run
	proxies []launcher.BusProxy
	// socketEnv are set (or, with value "\x00", unset) after the
	// context's environment.
	socketEnv [][2]string
	// vis is the export table: host paths visible at the same path.
	vis   map[string]visKind
	notes []string
	// dry leaves the host alone (FileAccess).
	dry bool
	// appExt and runtimeExt are the ID=COMMIT lists of the mounted
	// extensions.
	appExt, runtimeExt string
	// perAppLock holds the per-app directories' lock (-1: none).
	perAppLock int
	// locks hold the instance's and the deployments' .ref locks.
	locks []int
}

func (b *builder) add(m ...launcher.Mount) { b.mounts = append(b.mounts, m...) }

func (b *builder) warnf(format string, args ...any) {
	b.warn = append(b.warn, fmt.Sprintf(format, args...))
}

func (b *builder) notef(format string, args ...any) {
	b.notes = append(b.notes, fmt.Sprintf(format, args...))
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// Build resolves in and host into a Spec. It creates the host-side
// directories the sandbox needs (see Prepare in the package doc).
func Build(ctx context.Context, in Input, host Host) (*Result, error) {
	if in.AppID == "" || in.RuntimeFiles == "" || host.Home == "" || host.RuntimeDir == "" {
		return nil, fmt.Errorf("%w: app id, runtime files, home and runtime dir are required", ErrInput)
	}
	if in.Context == nil {
		in.Context = permissions.New()
	}
	if host.RealName == "" {
		host.RealName = "Unknown" // g_get_real_name()'s answer, which Flatpak writes
	}
	b := &builder{in: in, host: host, ctx: in.Context, env: baseEnv(host.Env), perAppLock: -1}
	b.appDir = filepath.Join(host.Home, ".var", "app", in.AppID)
	b.sboxRun = "/run/user/" + strconv.Itoa(host.UID)
	b.xdgRun = filepath.Join(host.RuntimeDir, ".flatpak", in.AppID, "xdg-run")
	for _, d := range []string{"cache/tmp", "data", "config", ".local/state"} {
		if err := os.MkdirAll(filepath.Join(b.appDir, d), 0o755); err != nil {
			return nil, fmt.Errorf("creating the app directory: %w", err)
		}
	}
	appTmp := filepath.Join(host.RuntimeDir, ".flatpak", in.AppID, "tmp")
	for _, d := range []string{b.xdgRun, appTmp} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("creating the app runtime directory: %w", err)
		}
	}
	iid, idir, err := newInstance(host.RuntimeDir)
	if err != nil {
		return nil, err
	}
	b.lockRef(filepath.Join(idir, ".ref"), true)

	// 1-2: runtime and app.
	b.add(launcher.Mount{Type: launcher.ROBind, Source: in.RuntimeFiles, Dest: "/usr"})
	if in.AppFiles != "" {
		b.add(launcher.Mount{Type: launcher.ROBind, Source: in.AppFiles, Dest: "/app"})
	} else {
		b.add(launcher.Mount{Type: launcher.Dir, Dest: "/app"})
	}
	if in.OriginalAppFiles != "" && in.OriginalAppFiles != in.AppFiles {
		b.add(launcher.Mount{Type: launcher.ROBind, Source: in.OriginalAppFiles, Dest: "/run/parent/app"})
	}
	// 3: extensions, the app's then the runtime's.
	useCache := b.useLdCache()
	appLd, runtimeLd := "", ""
	b.appExt, appLd = b.extensions("app", "/app", in.AppExtensions, useCache)
	b.runtimeExt, runtimeLd = b.extensions("runtime", "/usr", in.RuntimeExtensions, useCache)
	base := append([]launcher.Mount(nil), b.mounts...)
	// 4-5: basics.
	b.add(
		launcher.Mount{Type: launcher.Proc, Dest: "/proc"},
		launcher.Mount{Type: launcher.Dir, Dest: "/tmp"},
		launcher.Mount{Type: launcher.Dir, Dest: "/var/tmp"},
		launcher.Mount{Type: launcher.Dir, Dest: "/run/host"},
		launcher.Mount{Type: launcher.Dir, Dest: b.sboxRun, Mode: 0o700},
		launcher.Mount{Type: launcher.Symlink, Source: "../run", Dest: "/var/run"},
	)
	for _, d := range []string{"block", "bus", "class", "dev", "devices"} {
		b.add(launcher.Mount{Type: launcher.ROBind, Source: "/sys/" + d, Dest: "/sys/" + d, Optional: true})
	}
	b.add(launcher.Mount{Type: launcher.ROBind, Source: "/proc/self/ns/user", Dest: "/run/.userns", Optional: true})
	b.add(launcher.Mount{Type: launcher.Symlink, Source: "/etc/timezone", Dest: "/var/db/zoneinfo"})
	// 6-8: /etc.
	b.add(
		launcher.Mount{Type: launcher.File, Dest: "/etc/passwd", ReadOnly: true, Data: []byte(fmt.Sprintf(
			"%s:x:%d:%d:%s:%s:/bin/sh\nnfsnobody:x:65534:65534:Unmapped user:/:/sbin/nologin\n",
			host.User, host.UID, host.GID, host.RealName, host.Home))},
		launcher.Mount{Type: launcher.File, Dest: "/etc/group", ReadOnly: true, Data: []byte(fmt.Sprintf(
			"%s:x:%d:%s\nnfsnobody:x:65534:\n", host.Group, host.GID, host.User))},
		launcher.Mount{Type: launcher.File, Dest: "/etc/pkcs11/pkcs11.conf", ReadOnly: true, Data: []byte("user-config: none\n")},
	)
	if exists("/etc/machine-id") {
		b.add(launcher.Mount{Type: launcher.ROBind, Source: "/etc/machine-id", Dest: "/etc/machine-id"})
	} else if exists("/var/lib/dbus/machine-id") {
		b.add(launcher.Mount{Type: launcher.ROBind, Source: "/var/lib/dbus/machine-id", Dest: "/etc/machine-id"})
	}
	b.runtimeEtc()
	// 9: per-app dirs and usrmerge links.
	if !in.Sandbox {
		for _, d := range []string{"cache", "data", "config"} {
			b.add(launcher.Mount{Type: launcher.Bind, Source: filepath.Join(b.appDir, d), Dest: "/var/" + d})
		}
		b.add(launcher.Mount{Type: launcher.Bind, Source: filepath.Join(b.appDir, "cache", "tmp"), Dest: "/var/tmp"})
	}
	for _, d := range []string{"bin", "lib", "lib32", "lib64", "sbin"} {
		if fi, err := os.Lstat(filepath.Join(in.RuntimeFiles, d)); err == nil && (fi.IsDir() || fi.Mode()&fs.ModeSymlink != 0) {
			b.add(launcher.Mount{Type: launcher.Symlink, Source: "usr/" + d, Dest: "/" + d})
		}
	}
	// 10: timezone.
	b.timezone()
	// 12: network configuration, straight from the host.
	for _, f := range []string{"resolv.conf", "host.conf", "hosts", "gai.conf"} {
		b.add(launcher.Mount{Type: launcher.ROBind, Source: "/etc/" + f, Dest: "/etc/" + f, Optional: true})
	}
	// 13: ld.so: a generated cache, or else libraries in /app/lib are
	// found through LD_LIBRARY_PATH, as Flatpak does.
	ldPath := ""
	if useCache {
		cache, err := b.ldCache(ctx, base)
		if err != nil {
			return nil, err
		}
		if b.generateLdConf() {
			b.add(launcher.Mount{Type: launcher.File, Dest: "/etc/ld.so.conf", Data: []byte(LdConf), ReadOnly: true})
		}
		b.add(launcher.Mount{Type: launcher.File, Dest: "/etc/ld.so.cache", Data: cache, ReadOnly: true})
	} else if in.AppFiles != "" {
		ldPath = "/app/lib"
	}
	// Extensions' library directories without the cache: the app's
	// first, the runtime's last.
	ldPath = joinNonEmpty(":", appLd, ldPath, runtimeLd)

	// 14: instance.
	info := b.appInfo(iid)
	infoData := info.Bytes()
	if err := os.WriteFile(filepath.Join(idir, "info"), infoData, 0o600); err != nil {
		return nil, fmt.Errorf("writing the instance info: %w", err)
	}
	b.add(
		launcher.Mount{Type: launcher.ROBind, Source: idir, Dest: "/run/flatpak/.flatpak/" + iid},
		launcher.Mount{Type: launcher.File, Dest: "/.flatpak-info", Data: infoData, Mode: 0o600, ReadOnly: true},
		launcher.Mount{Type: launcher.File, Dest: "/run/host/container-manager", Data: []byte("flatpak\n"), ReadOnly: true},
	)
	// 15: the shared per-app runtime dir (none under --sandbox).
	if !in.Sandbox {
		b.add(launcher.Mount{Type: launcher.Bind, Source: b.xdgRun, Dest: b.sboxRun})
	}
	// 16: the document portal's per-app view, from GetMountPoint (which
	// D-Bus-activates the portal); the runtime-dir link doc points at it.
	docMount := ""
	if !in.Sandbox && in.Documents != nil {
		if mp, err := in.Documents.MountPoint(ctx); err == nil {
			docMount = mp
			b.add(launcher.Mount{Type: launcher.Bind, Source: filepath.Join(mp, "by-app", in.AppID), Dest: "/run/flatpak/doc"})
		} else {
			b.warnf("not mounting /run/flatpak/doc: %v", err)
		}
	}
	// 17: devices, after the per-app lock that keeps Flatpak's garbage
	// collection off a shared /dev/shm.
	b.lockDeployments()
	if !in.Sandbox {
		if b.perAppLock, err = lockPerAppDir(filepath.Dir(b.xdgRun), in.AppID); err != nil {
			b.unlock()
			return nil, err
		}
	}
	if err := b.devices(); err != nil {
		b.unlock()
		return nil, err
	}
	// 18: per-app /tmp.
	if mode, ok := b.ctx.Filesystems.Get("/tmp"); (!ok || mode == permissions.ModeNone) && !in.Sandbox {
		b.add(launcher.Mount{Type: launcher.Bind, Source: appTmp, Dest: "/tmp"})
	}
	// 19: filesystems.
	b.filesystems()
	// 20: sockets, then the accessibility bus.
	b.sockets()
	b.a11yBus(ctx)
	// 23: fonts and icons.
	b.fonts()
	b.add(
		launcher.Mount{Type: launcher.Symlink, Source: "/app/lib/debug/source", Dest: "/run/build"},
		launcher.Mount{Type: launcher.Symlink, Source: "/usr/lib/debug/source", Dest: "/run/build-runtime"},
	)
	// 21: the per-app directories' lock reference.
	if b.perAppLock >= 0 {
		ref := filepath.Join(filepath.Dir(b.xdgRun), ".ref")
		b.add(launcher.Mount{Type: launcher.ROBind, Source: ref, Dest: "/run/flatpak/per-app-dirs-ref"})
	}
	// 25: runtime-dir links, created on the host side in the shared dir,
	// or in the sandbox under --sandbox.
	if in.Sandbox {
		b.sandboxRunLinks()
	} else {
		b.runtimeDirLinks()
	}

	env := b.finalEnv(ldPath)
	args := in.Args
	if in.FileForwarding {
		if args, err = b.forwardArgs(ctx, docMount, args); err != nil {
			b.unlock()
			return nil, err
		}
	}
	command := in.Command
	if command == "" {
		command = in.MetadataCommand
	}
	if command == "" {
		command = "/bin/sh"
	}
	spec := &launcher.Spec{
		Args:          append([]string{command}, args...),
		Env:           env,
		Cwd:           in.Cwd,
		UID:           host.UID,
		GID:           host.GID,
		ShareNet:      b.ctx.Has(permissions.KeyShared, "network"),
		ShareIPC:      b.ctx.Has(permissions.KeyShared, "ipc"),
		Mounts:        b.mounts,
		BusProxies:    b.proxies,
		InstanceDir:   idir,
		DieWithParent: in.DieWithParent,
		Seccomp: launcher.Seccomp{
			Devel:     in.Devel || b.ctx.Has(permissions.KeyFeatures, "devel"),
			Multiarch: b.ctx.Has(permissions.KeyFeatures, "multiarch"),
			Bluetooth: b.ctx.Has(permissions.KeyFeatures, "bluetooth"),
			Canbus:    b.ctx.Has(permissions.KeyFeatures, "canbus"),
			Arch:      in.Arch,
		},
	}
	if err := spec.Validate(); err != nil {
		b.unlock()
		return nil, err
	}
	return &Result{Spec: spec, Info: info, InstanceID: iid, InstanceDir: idir, Warnings: b.warn, Notices: b.notes, PerAppLock: b.perAppLock, Locks: b.locks}, nil
}

// newInstance creates $XDG_RUNTIME_DIR/.flatpak/IID with a random id.
func newInstance(runtimeDir string) (string, string, error) {
	base := filepath.Join(runtimeDir, ".flatpak")
	if err := os.MkdirAll(base, 0o700); err != nil {
		return "", "", fmt.Errorf("creating the instance directory: %w", err)
	}
	for range 100 {
		var buf [4]byte
		rand.Read(buf[:])
		id := strconv.FormatUint(uint64(binary.LittleEndian.Uint32(buf[:])), 10)
		dir := filepath.Join(base, id)
		if err := os.Mkdir(dir, 0o755); err == nil {
			return id, dir, nil
		} else if !errors.Is(err, fs.ErrExist) {
			return "", "", fmt.Errorf("creating the instance directory: %w", err)
		}
	}
	return "", "", fmt.Errorf("creating the instance directory: no free id")
}

var etcSkip = map[string]bool{"passwd": true, "group": true, "machine-id": true, "resolv.conf": true,
	"host.conf": true, "hosts": true, "gai.conf": true, "localtime": true, "timezone": true, "pkcs11": true}

func (b *builder) runtimeEtc() {
	etc := filepath.Join(b.in.RuntimeFiles, "etc")
	ents, err := os.ReadDir(etc)
	if err != nil {
		return
	}
	for _, e := range ents {
		if etcSkip[e.Name()] {
			continue
		}
		src := filepath.Join(etc, e.Name())
		if e.Type()&fs.ModeSymlink != 0 {
			if t, err := os.Readlink(src); err == nil {
				b.add(launcher.Mount{Type: launcher.Symlink, Source: t, Dest: "/etc/" + e.Name()})
			}
			continue
		}
		b.add(launcher.Mount{Type: launcher.ROBind, Source: src, Dest: "/etc/" + e.Name()})
	}
}

func (b *builder) timezone() {
	tz := hostTimezone()
	if exists("/usr/share/zoneinfo") && exists(filepath.Join(b.in.RuntimeFiles, "share", "zoneinfo")) {
		b.add(launcher.Mount{Type: launcher.ROBind, Source: "/usr/share/zoneinfo", Dest: "/usr/share/zoneinfo"})
		if tz != "" {
			b.add(launcher.Mount{Type: launcher.Symlink, Source: "../usr/share/zoneinfo/" + tz, Dest: "/etc/localtime"})
		}
	}
	b.add(launcher.Mount{Type: launcher.File, Dest: "/etc/timezone", Data: []byte(tz + "\n"), ReadOnly: true})
}

func hostTimezone() string {
	if t, err := os.Readlink("/etc/localtime"); err == nil {
		if _, z, ok := strings.Cut(t, "zoneinfo/"); ok {
			return z
		}
	}
	if data, err := os.ReadFile("/etc/timezone"); err == nil {
		return strings.TrimSpace(string(data))
	}
	return "UTC"
}

func (b *builder) devices() error {
	has := func(d string) bool { return b.ctx.Has(permissions.KeyDevices, d) }
	if has("all") {
		b.add(launcher.Mount{Type: launcher.DevBind, Source: "/dev", Dest: "/dev"})
		fi, err := os.Lstat(hostDevShm)
		switch {
		case err != nil || has("shm"):
		case fi.IsDir() && b.perAppDevShm():
			return b.devShmMount("/dev/shm")
		case fi.IsDir():
			b.add(launcher.Mount{Type: launcher.Tmpfs, Dest: "/dev/shm", Mode: 0o1777})
		case fi.Mode()&fs.ModeSymlink != 0:
			// Hosts where /dev/shm links to /run/shm: the link target
			// gets the sandbox's own (or the app's shared) directory.
			if t, _ := os.Readlink(hostDevShm); t != "/run/shm" {
				b.warnf("unexpected /dev/shm symlink %s", t)
			} else if b.perAppDevShm() {
				return b.devShmMount("/run/shm")
			} else {
				b.add(launcher.Mount{Type: launcher.Dir, Dest: "/run/shm"})
			}
		}
		return nil
	}
	b.add(launcher.Mount{Type: launcher.Dev, Dest: "/dev"})
	if has("dri") {
		for _, d := range []string{"/dev/dri", "/dev/mali", "/dev/mali0", "/dev/umplock", "/dev/nvidiactl", "/dev/nvidia-modeset", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools"} {
			b.add(launcher.Mount{Type: launcher.DevBind, Source: d, Dest: d, Optional: true})
		}
		for i := range 20 {
			d := fmt.Sprintf("/dev/nvidia%d", i)
			b.add(launcher.Mount{Type: launcher.DevBind, Source: d, Dest: d, Optional: true})
		}
	}
	if has("kvm") {
		b.add(launcher.Mount{Type: launcher.DevBind, Source: "/dev/kvm", Dest: "/dev/kvm", Optional: true})
	}
	if has("shm") {
		b.add(launcher.Mount{Type: launcher.Bind, Source: "/dev/shm", Dest: "/dev/shm", Optional: true})
	} else if b.perAppDevShm() {
		return b.devShmMount("/dev/shm")
	}
	return nil
}

func (b *builder) appInfo(iid string) *appinfo.Info {
	in := b.in
	info := &appinfo.Info{
		IsRuntime:         in.AppFiles == "",
		Name:              in.AppID,
		Runtime:           in.RuntimeRef,
		InstanceID:        iid,
		InstancePath:      map[bool]string{false: b.appDir}[in.Sandbox],
		AppPath:           in.AppFiles,
		OriginalAppPath:   map[bool]string{true: in.OriginalAppFiles}[in.OriginalAppFiles != in.AppFiles],
		AppCommit:         in.AppCommit,
		RuntimePath:       in.RuntimeFiles,
		RuntimeCommit:     in.RuntimeCommit,
		Branch:            in.Branch,
		Arch:              in.Arch,
		FlatpakVersion:    FlatpakVersion,
		Sandbox:           in.Sandbox,
		Devel:             in.Devel,
		Context:           b.ctx.Bytes(true),
		AppExtensions:     b.appExt,
		RuntimeExtensions: b.runtimeExt,
	}
	info.SessionBusProxy = !b.ctx.Has(permissions.KeySockets, "session-bus")
	info.SystemBusProxy = !b.ctx.Has(permissions.KeySockets, "system-bus")
	if in.CommandLine != nil {
		info.ExtraArgs = in.CommandLine.Args()
	}
	return info
}

func runLinks() map[string]string {
	links := map[string]string{"flatpak-info": "../../../.flatpak-info"}
	for _, n := range []string{"wayland-0", "pulse", "bus", ".flatpak", "app", "doc", "p11-kit"} {
		links[n] = "../../flatpak/" + n
	}
	return links
}

func (b *builder) sandboxRunLinks() {
	links := runLinks()
	names := make([]string, 0, len(links))
	for n := range links {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		b.add(launcher.Mount{Type: launcher.Symlink, Source: links[n], Dest: b.sboxRun + "/" + n})
	}
}

func (b *builder) runtimeDirLinks() {
	links := runLinks()
	names := make([]string, 0, len(links))
	for n := range links {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := filepath.Join(b.xdgRun, n)
		if t, err := os.Readlink(p); err == nil && t == links[n] {
			continue
		}
		os.Remove(p)
		if err := os.Symlink(links[n], p); err != nil {
			b.warnf("cannot create %s: %v", p, err)
		}
	}
}

func joinNonEmpty(sep string, parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}
