package portals

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/porthole-dev/porthole/internal/appinfo"
)

// AppKind says how a caller runs.
type AppKind int

// App kinds.
const (
	KindHost AppKind = iota
	KindFlatpak
	KindSnap
)

func (k AppKind) String() string {
	switch k {
	case KindFlatpak:
		return "flatpak"
	case KindSnap:
		return "snap"
	}
	return "host"
}

// AppInfo identifies a caller. It is immutable once built.
type AppInfo struct {
	Kind AppKind
	// ID is the application id; "" for unidentified host processes.
	ID string
	// InstanceID, AppPath, RuntimePath come from .flatpak-info.
	InstanceID  string
	AppPath     string
	RuntimePath string
	// Network reports whether the app may use the network.
	Network bool
	// Test marks an identity forced by the test hooks.
	Test bool
}

// IsHost reports whether the caller is a trusted host process.
func (a *AppInfo) IsHost() bool { return a.Kind == KindHost }

var errNotFlatpak = errors.New("not a flatpak")

// parseFlatpakInfo parses the .flatpak-info keyfile flatpak (and porthole
// run) place at the root of a sandbox.
func parseFlatpakInfo(data []byte) (*AppInfo, error) {
	kf, err := parseKeyFile(data)
	if err != nil {
		return nil, fmt.Errorf("parsing .flatpak-info: %w", err)
	}
	group := "Application"
	if kf.hasGroup("Runtime") {
		group = "Runtime"
	}
	id, _ := kf.str(group, "name")
	if !validAppID(id) {
		return nil, fmt.Errorf("parsing .flatpak-info: invalid app id %q", id)
	}
	inst, ok := kf.str("Instance", "instance-id")
	if !ok {
		return nil, errors.New("parsing .flatpak-info: no instance-id")
	}
	ai := &AppInfo{Kind: KindFlatpak, ID: id, InstanceID: inst}
	ai.AppPath, _ = kf.str("Instance", "app-path")
	ai.RuntimePath, _ = kf.str("Instance", "runtime-path")
	shared, _ := kf.list("Context", "shared")
	for _, s := range shared {
		if s == "network" {
			ai.Network = true
		}
	}
	return ai, nil
}

// readFlatpakInfo looks for .flatpak-info in the root of process pid.
// It returns errNotFlatpak when the process is not sandboxed by flatpak.
func readFlatpakInfo(pid uint32) (*AppInfo, error) {
	data, err := appinfo.ReadPIDData(int(pid))
	if errors.Is(err, appinfo.ErrNotSandboxed) {
		return nil, errNotFlatpak
	}
	if err != nil {
		return nil, err
	}
	return parseFlatpakInfo(data)
}

// isSnap reports whether pid runs in a snap (its cgroup names a snap unit).
func isSnap(pid uint32) bool {
	data, err := os.ReadFile("/proc/" + strconv.FormatUint(uint64(pid), 10) + "/cgroup")
	return err == nil && strings.Contains(string(data), "/snap.")
}

var (
	unitScopeRE   = regexp.MustCompile(`^app-(?:[[:alnum:]]+-)?(.+?)(?:-[[:alnum:]]*)(?:\.scope|\.slice)$`)
	unitServiceRE = regexp.MustCompile(`^app-(?:[[:alnum:]]+-)?(.+?)(?:@[[:alnum:]]*|-autostart)?\.service$`)
)

// hostAppID derives a host app's id from its systemd user unit, following
// the naming scheme of the XDG desktop-entry/systemd integration:
// app-[launcher-]ID[-RANDOM].scope and app-[launcher-]ID[@RANDOM].service.
func hostAppID(pid uint32) string {
	data, err := os.ReadFile("/proc/" + strconv.FormatUint(uint64(pid), 10) + "/cgroup")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(line, "0::") {
			continue
		}
		return appIDFromCgroup(line[3:])
	}
	return ""
}

func appIDFromCgroup(path string) string {
	parts := strings.Split(path, "/")
	seenManager := false
	for _, p := range parts {
		if strings.HasPrefix(p, "user@") && strings.HasSuffix(p, ".service") {
			seenManager = true
			continue
		}
		if !seenManager || strings.HasSuffix(p, ".slice") {
			continue
		}
		if !strings.HasPrefix(p, "app-") {
			return ""
		}
		m := unitScopeRE.FindStringSubmatch(p)
		if m == nil {
			m = unitServiceRE.FindStringSubmatch(p)
		}
		if m == nil {
			return ""
		}
		id := unescapeUnit(m[1])
		if !validAppID(id) {
			return ""
		}
		return id
	}
	return ""
}

// unescapeUnit undoes systemd's \xNN escaping in unit names.
func unescapeUnit(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' {
			if v, err := strconv.ParseUint(s[i+2:i+4], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// validAppID reports whether id is a valid D-Bus-style application id.
func validAppID(id string) bool {
	if len(id) == 0 || len(id) > 255 {
		return false
	}
	elems := strings.Split(id, ".")
	if len(elems) < 2 {
		return false
	}
	for _, e := range elems {
		if e == "" || (e[0] >= '0' && e[0] <= '9') {
			return false
		}
		for _, c := range []byte(e) {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
				return false
			}
		}
	}
	return true
}

// testAppInfo returns the identity forced by the hooks upstream's test
// suite uses, or nil when none is set.
//
//   - XDG_DESKTOP_PORTAL_TEST_APP_ID=<id> (1.19.4-1.20): every caller is a
//     trusted test app with that id (registered id when registered).
//   - XDG_DESKTOP_PORTAL_TEST_APP_INFO_KIND=host|flatpak|snap (1.21+), with
//     XDG_DESKTOP_PORTAL_TEST_HOST_APPID, ..._TEST_FLATPAK_METADATA (a
//     .flatpak-info style file), ..._TEST_SNAP_METADATA.
func testAppInfo(getenv func(string) string, registered string) (*AppInfo, error) {
	if id := getenv("XDG_DESKTOP_PORTAL_TEST_APP_ID"); id != "" {
		if registered != "" {
			id = registered
		}
		return &AppInfo{Kind: KindHost, ID: id, Network: true, Test: true}, nil
	}
	switch getenv("XDG_DESKTOP_PORTAL_TEST_APP_INFO_KIND") {
	case "":
		return nil, nil
	case "host":
		id := getenv("XDG_DESKTOP_PORTAL_TEST_HOST_APPID")
		if registered != "" {
			id = registered
		}
		return &AppInfo{Kind: KindHost, ID: id, Network: true, Test: true}, nil
	case "flatpak":
		data, err := os.ReadFile(getenv("XDG_DESKTOP_PORTAL_TEST_FLATPAK_METADATA"))
		if err != nil {
			return nil, fmt.Errorf("reading test flatpak metadata: %w", err)
		}
		ai, err := parseFlatpakInfo(data)
		if err != nil {
			return nil, err
		}
		ai.Test = true
		return ai, nil
	case "snap":
		data, err := os.ReadFile(getenv("XDG_DESKTOP_PORTAL_TEST_SNAP_METADATA"))
		if err != nil {
			return nil, fmt.Errorf("reading test snap metadata: %w", err)
		}
		kf, err := parseKeyFile(data)
		if err != nil {
			return nil, fmt.Errorf("parsing test snap metadata: %w", err)
		}
		name, _ := kf.str("Snap Info", "InstanceName")
		net, _ := kf.str("Snap Info", "HasNetworkStatus")
		return &AppInfo{Kind: KindSnap, ID: "snap." + name, Network: net == "true", Test: true}, nil
	}
	return nil, fmt.Errorf("unknown XDG_DESKTOP_PORTAL_TEST_APP_INFO_KIND %q", getenv("XDG_DESKTOP_PORTAL_TEST_APP_INFO_KIND"))
}
