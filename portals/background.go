package portals

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/godbus/dbus/v5"
)

// background is org.freedesktop.portal.Background: the "background"
// permission and autostart files.
type background struct {
	s      *Server
	getenv Env

	mu     sync.Mutex
	status map[string]string // app id → status message
}

var backgroundOptions = optionTypes{"handle_token": "s", "reason": "s", "autostart": "b", "commandline": "as", "dbus-activatable": "b"}

func checkBackgroundOptions(opts map[string]dbus.Variant) error {
	if s, _ := opts["reason"].Value().(string); len([]rune(s)) > 256 {
		return wrapf(ErrInvalidArgument, "Not accepting overly long reasons")
	}
	if cl, ok := opts["commandline"].Value().([]string); ok {
		if len(cl) == 0 || len(cl) > 100 {
			return wrapf(ErrInvalidArgument, "Commandline can't be empty or have more than 100 arguments")
		}
		if len([]rune(cl[0])) > 256 {
			return wrapf(ErrInvalidArgument, "Not accepting overly long commandlines")
		}
	}
	return nil
}

// RequestBackground is Background.RequestBackground.
func (p *background) RequestBackground(msg dbus.Message, parent string, opts map[string]dbus.Variant) (dbus.ObjectPath, *dbus.Error) {
	return p.s.startRequest(&msg, opts, backgroundOptions, true, func(*AppInfo) error { return checkBackgroundOptions(opts) },
		func(ctx context.Context, r *Request, app *AppInfo, fwd map[string]dbus.Variant) (uint32, map[string]dbus.Variant) {
			reason := optString(opts, "reason")
			autostart := optBool(opts, "autostart", false)
			var allowed bool
			perm := permYes
			if !app.IsHost() {
				perm = p.s.permission(ctx, "background", "background", app.ID)
			}
			if perm == permAsk {
				sub := reason
				if sub == "" {
					sub = fmt.Sprintf("%s requests to run in the background.", app.ID)
				}
				code := p.s.accessDialog(ctx, r, app, "", fmt.Sprintf("Allow %s to run in the background?", app.ID), sub,
					"The ‘run in background’ permission can be changed at any time from the application settings.",
					map[string]dbus.Variant{"deny_label": dbus.MakeVariant("Don't allow"), "grant_label": dbus.MakeVariant("Allow")})
				allowed = code == ResponseSuccess
			} else {
				allowed = perm != permNo
				if perm == permUnset {
					_ = p.s.setPermission(ctx, "background", "background", app.ID, permYes)
				}
			}
			cl, _ := opts["commandline"].Value().([]string)
			enabled, err := p.autostart(app, allowed && autostart, cl, optBool(opts, "dbus-activatable", false))
			if err != nil {
				p.s.log.Warn("cannot update autostart", "app", app.ID, "err", err)
			}
			code := ResponseSuccess
			if !allowed {
				code = ResponseCancelled
			}
			return code, map[string]dbus.Variant{"background": dbus.MakeVariant(allowed), "autostart": dbus.MakeVariant(enabled)}
		})
}

// autostart writes or removes $XDG_CONFIG_HOME/autostart/APPID.desktop.
func (p *background) autostart(app *AppInfo, enable bool, cmdline []string, activatable bool) (bool, error) {
	if app.ID == "" {
		return false, fmt.Errorf("autostart needs an app id")
	}
	dir := p.getenv("XDG_CONFIG_HOME")
	if dir == "" {
		dir = filepath.Join(p.getenv("HOME"), ".config")
	}
	dir = filepath.Join(dir, "autostart")
	path := filepath.Join(dir, app.ID+".desktop")
	if !enable {
		_ = os.Remove(path)
		return false, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, err
	}
	var b strings.Builder
	b.WriteString("[Desktop Entry]\nType=Application\n")
	fmt.Fprintf(&b, "Name=%s\nX-XDP-Autostart=%s\n", escapeKeyValue(app.ID), escapeKeyValue(app.ID))
	if len(cmdline) > 0 {
		exec := strings.Join(cmdline, " ")
		if app.Kind == KindFlatpak {
			args := []string{"flatpak", "run", "--command=" + shellQuote(cmdline[0]), app.ID}
			for _, a := range cmdline[1:] {
				args = append(args, shellQuote(a))
			}
			exec = strings.Join(args, " ")
		}
		fmt.Fprintf(&b, "Exec=%s\n", escapeKeyValue(exec))
	}
	if activatable {
		b.WriteString("DBusActivatable=true\n")
	}
	if app.Kind == KindFlatpak {
		fmt.Fprintf(&b, "X-Flatpak=%s\n", escapeKeyValue(app.ID))
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return false, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return false, err
	}
	return true, nil
}

func escapeKeyValue(s string) string {
	s = strings.NewReplacer("\\", `\\`, "\n", `\n`, "\t", `\t`, "\r", `\r`).Replace(s)
	if strings.HasPrefix(s, " ") {
		s = `\s` + s[1:]
	}
	return s
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// SetStatus is Background.SetStatus (version 2).
func (p *background) SetStatus(msg dbus.Message, opts map[string]dbus.Variant) *dbus.Error {
	_, app, err := p.s.appInfo(&msg)
	if err != nil {
		return DBusError(err)
	}
	if err := (optionTypes{"message": "s"}).check(opts); err != nil {
		return DBusError(err)
	}
	if app.IsHost() {
		return DBusError(wrapf(ErrNotAllowed, "Only sandboxed applications can set background status"))
	}
	m := optString(opts, "message")
	if len([]rune(m)) > 96 {
		return DBusError(wrapf(ErrInvalidArgument, "Status message is longer than 96 characters"))
	}
	p.mu.Lock()
	p.status[app.ID] = m
	p.mu.Unlock()
	return nil
}
