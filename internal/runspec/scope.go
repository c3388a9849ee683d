package runspec

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/godbus/dbus/v5"
)

// ErrNoSystemd reports that the user has no systemd instance to ask for
// a scope.
var ErrNoSystemd = errors.New("no systemd user session")

// SystemdPrivateSocket is where the user's systemd accepts direct
// connections (the path Flatpak uses, whatever XDG_RUNTIME_DIR says).
func SystemdPrivateSocket(uid int) string {
	return "/run/user/" + strconv.Itoa(uid) + "/systemd/private"
}

// ScopeName is the unit Flatpak moves a run into:
// app-flatpak-ESCAPED_ID-PID.scope.
func ScopeName(appID string, pid int) string {
	return "app-flatpak-" + escapeUnitName(appID) + "-" + strconv.Itoa(pid) + ".scope"
}

// escapeUnitName keeps alphanumerics, ':', '_' and '.', and writes
// other bytes as \xNN, as Flatpak does.
func escapeUnitName(s string) string {
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == ':' || c == '_' || c == '.' {
			sb.WriteByte(c)
		} else {
			fmt.Fprintf(&sb, "\\x%02x", c)
		}
	}
	return sb.String()
}

// scopeTimeout bounds the whole exchange with systemd.
const scopeTimeout = 25 * time.Second

// JoinScope moves process pid into a new transient scope unit for appID
// through the systemd private socket (a direct connection, no bus):
// StartTransientUnit(ScopeName, "fail", PIDs=[pid]), then it waits for
// the job's JobRemoved signal. Flatpak does this before it starts the
// sandbox, so that the sandbox lands in the scope too, and goes on when
// it fails.
func JoinScope(ctx context.Context, socket, appID string, pid int) error {
	if _, err := os.Stat(socket); err != nil {
		return fmt.Errorf("%w: %v", ErrNoSystemd, err)
	}
	ctx, cancel := context.WithTimeout(ctx, scopeTimeout)
	defer cancel()
	conn, err := dbus.Dial("unix:path="+socket, dbus.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("cannot connect to systemd: %w", err)
	}
	defer conn.Close()
	if err := conn.Auth(nil); err != nil {
		return fmt.Errorf("cannot connect to systemd: %w", err)
	}
	sigs := make(chan *dbus.Signal, 64)
	conn.Signal(sigs)
	type prop struct {
		Name  string
		Value dbus.Variant
	}
	type aux struct {
		Name  string
		Props []prop
	}
	var job dbus.ObjectPath
	err = conn.Object("org.freedesktop.systemd1", "/org/freedesktop/systemd1").CallWithContext(ctx,
		"org.freedesktop.systemd1.Manager.StartTransientUnit", 0,
		ScopeName(appID, pid), "fail", []prop{{"PIDs", dbus.MakeVariant([]uint32{uint32(pid)})}}, []aux{}).Store(&job)
	if err != nil {
		return fmt.Errorf("cannot start the scope: %w", err)
	}
	for {
		select {
		case s, ok := <-sigs:
			if !ok {
				return fmt.Errorf("cannot start the scope: connection closed")
			}
			if s.Name == "org.freedesktop.systemd1.Manager.JobRemoved" && len(s.Body) >= 2 {
				if p, ok := s.Body[1].(dbus.ObjectPath); ok && p == job {
					return nil
				}
			}
		case <-ctx.Done():
			return fmt.Errorf("cannot start the scope: %w", ctx.Err())
		}
	}
}
