package appinfo

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/porthole-dev/porthole/internal/keyfile"
)

// ErrNotSandboxed reports a process without /.flatpak-info.
var ErrNotSandboxed = errors.New("not a sandboxed process")

// Group and key names.
const (
	GroupApplication = "Application"
	GroupRuntime     = "Runtime"
	GroupInstance    = "Instance"
)

// Info is the content of /.flatpak-info.
type Info struct {
	// IsRuntime selects the [Runtime] group (running a runtime directly)
	// instead of [Application].
	IsRuntime bool
	Name      string
	// Runtime is the runtime ref, runtime/ID/ARCH/BRANCH.
	Runtime string

	InstanceID          string
	InstancePath        string
	AppPath             string
	OriginalAppPath     string
	AppCommit           string
	AppExtensions       string
	RuntimePath         string
	OriginalRuntimePath string
	RuntimeCommit       string
	RuntimeExtensions   string
	Branch              string
	Arch                string
	FlatpakVersion      string
	SessionBusProxy     bool
	SystemBusProxy      bool
	Sandbox             bool
	Build               bool
	Devel               bool
	// ExtraArgs are the command-line permission options, as --opt=value.
	ExtraArgs []string

	// Context is the flattened permission groups as key-file text (what
	// a permission context saves), appended after [Instance].
	Context []byte
}

// Bytes renders the file exactly as Flatpak 1.14 writes it.
func (i *Info) Bytes() []byte {
	var b strings.Builder
	set := func(k, v string) { fmt.Fprintf(&b, "%s=%s\n", k, keyfile.Escape(v, false)) }
	opt := func(k, v string) {
		if v != "" {
			set(k, v)
		}
	}
	group := GroupApplication
	if i.IsRuntime {
		group = GroupRuntime
	}
	fmt.Fprintf(&b, "[%s]\n", group)
	set("name", i.Name)
	set("runtime", i.Runtime)
	b.WriteString("\n[Instance]\n")
	set("instance-id", i.InstanceID)
	opt("instance-path", i.InstancePath)
	opt("app-path", i.AppPath)
	opt("original-app-path", i.OriginalAppPath)
	opt("app-commit", i.AppCommit)
	opt("app-extensions", i.AppExtensions)
	set("runtime-path", i.RuntimePath)
	opt("original-runtime-path", i.OriginalRuntimePath)
	opt("runtime-commit", i.RuntimeCommit)
	opt("runtime-extensions", i.RuntimeExtensions)
	opt("branch", i.Branch)
	set("arch", i.Arch)
	set("flatpak-version", i.FlatpakVersion)
	for _, f := range []struct {
		k string
		v bool
	}{{"session-bus-proxy", i.SessionBusProxy}, {"system-bus-proxy", i.SystemBusProxy}, {"sandbox", i.Sandbox}, {"build", i.Build}, {"devel", i.Devel}} {
		if f.v {
			set(f.k, "true")
		}
	}
	if len(i.ExtraArgs) > 0 {
		b.WriteString("extra-args=")
		for _, a := range i.ExtraArgs {
			b.WriteString(keyfile.Escape(a, true))
			b.WriteByte(';')
		}
		b.WriteByte('\n')
	}
	if len(i.Context) > 0 {
		b.WriteByte('\n')
		b.Write(i.Context)
	}
	return []byte(b.String())
}

// Parse parses /.flatpak-info. The returned key file gives access to the
// permission groups.
func Parse(data []byte) (*Info, *keyfile.File, error) {
	kf, err := keyfile.Parse(data)
	if err != nil {
		return nil, nil, fmt.Errorf("parsing .flatpak-info: %w", err)
	}
	i := &Info{}
	group := GroupApplication
	if !kf.HasGroup(group) {
		if !kf.HasGroup(GroupRuntime) {
			return nil, nil, fmt.Errorf("parsing .flatpak-info: no [%s] or [%s] group", GroupApplication, GroupRuntime)
		}
		group, i.IsRuntime = GroupRuntime, true
	}
	str := func(g, k string) string {
		s, _ := kf.String(g, k)
		return s
	}
	boolean := func(k string) bool {
		b, _ := kf.Bool(GroupInstance, k)
		return b
	}
	i.Name = str(group, "name")
	if i.Name == "" {
		return nil, nil, fmt.Errorf("parsing .flatpak-info: no name")
	}
	i.Runtime = str(group, "runtime")
	for _, f := range []struct {
		k string
		p *string
	}{
		{"instance-id", &i.InstanceID}, {"instance-path", &i.InstancePath}, {"app-path", &i.AppPath},
		{"original-app-path", &i.OriginalAppPath}, {"app-commit", &i.AppCommit}, {"app-extensions", &i.AppExtensions},
		{"runtime-path", &i.RuntimePath}, {"original-runtime-path", &i.OriginalRuntimePath},
		{"runtime-commit", &i.RuntimeCommit}, {"runtime-extensions", &i.RuntimeExtensions},
		{"branch", &i.Branch}, {"arch", &i.Arch}, {"flatpak-version", &i.FlatpakVersion},
	} {
		*f.p = str(GroupInstance, f.k)
	}
	i.SessionBusProxy = boolean("session-bus-proxy")
	i.SystemBusProxy = boolean("system-bus-proxy")
	i.Sandbox = boolean("sandbox")
	i.Build = boolean("build")
	i.Devel = boolean("devel")
	i.ExtraArgs, _ = kf.StringList(GroupInstance, "extra-args")
	return i, kf, nil
}

// ReadPID reads and parses /proc/PID/root/.flatpak-info (see ReadPIDData).
func ReadPID(pid int) (*Info, *keyfile.File, error) {
	data, err := ReadPIDData(pid)
	if err != nil {
		return nil, nil, err
	}
	return Parse(data)
}

// ReadPIDData returns the bytes of /.flatpak-info in the root of process
// pid, opened without following a symlink and only when it is a regular
// file (at most 1 MiB). It returns ErrNotSandboxed when there is none, and
// also when the root cannot be opened because it lies on FUSE (a process
// in a snap or another FUSE root, as upstream treats it).
func ReadPIDData(pid int) ([]byte, error) {
	rootPath := "/proc/" + strconv.Itoa(pid) + "/root"
	root, err := unix.Open(rootPath, unix.O_DIRECTORY|unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.EACCES) {
			var st unix.Statfs_t
			if unix.Statfs(rootPath, &st) == nil && st.Type == unix.FUSE_SUPER_MAGIC {
				return nil, ErrNotSandboxed
			}
		}
		return nil, fmt.Errorf("opening %s: %w", rootPath, err)
	}
	defer unix.Close(root)
	fd, err := unix.Openat(root, ".flatpak-info", unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
	if errors.Is(err, unix.ENOENT) {
		return nil, ErrNotSandboxed
	}
	if err != nil {
		return nil, fmt.Errorf("opening .flatpak-info of pid %d: %w", pid, err)
	}
	f := os.NewFile(uintptr(fd), ".flatpak-info")
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf(".flatpak-info of pid %d is not a regular file", pid)
	}
	data, err := io.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("reading .flatpak-info of pid %d: %w", pid, err)
	}
	return data, nil
}
