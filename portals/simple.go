package portals

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/godbus/dbus/v5"
	"golang.org/x/sys/unix"
)

// startRequest is the common shape of request-returning portal methods:
// identify the caller, check its options, export a Request and run work
// in the background. check may reject the call before a Request exists.
func (s *Server) startRequest(msg *dbus.Message, opts map[string]dbus.Variant, types optionTypes, strict bool,
	check func(app *AppInfo) error,
	work func(ctx context.Context, r *Request, app *AppInfo, fwd map[string]dbus.Variant) (uint32, map[string]dbus.Variant),
) (dbus.ObjectPath, *dbus.Error) {
	c, app, err := s.appInfo(msg)
	if err != nil {
		return "", DBusError(err)
	}
	if strict {
		if err := types.check(opts); err != nil {
			return "", DBusError(err)
		}
	}
	if check != nil {
		if err := check(app); err != nil {
			return "", DBusError(err)
		}
	}
	fwd := types.filter(opts, "handle_token")
	r, err := s.newRequest(c, msg, opts)
	if err != nil {
		return "", DBusError(err)
	}
	r.Run(func(ctx context.Context) (uint32, map[string]dbus.Variant) {
		return work(ctx, r, app, fwd)
	})
	return r.path, nil
}

// exportURI returns uri as the caller may see it: unchanged for host
// apps, exported through the document portal for sandboxed ones.
func (s *Server) exportURI(ctx context.Context, docs DocumentExporter, app *AppInfo, uri string, flags DocFlags) (string, bool) {
	if app.IsHost() {
		return uri, true
	}
	ru, err := docs.ExportDocument(ctx, uri, app.ID, flags)
	if err != nil {
		s.log.Warn("cannot export file to app", "uri", uri, "app", app.ID, "err", err)
		return "", false
	}
	return ru, true
}

// accessDialog asks the impl.Access backend; it returns the response code
// (2 when there is no backend or it failed).
func (s *Server) accessDialog(ctx context.Context, r *Request, app *AppInfo, parent, title, subtitle, body string, opts map[string]dbus.Variant) uint32 {
	obj := s.backendObject("Access")
	if obj == nil {
		return ResponseOther
	}
	code, _, err := r.backendResponse(ctx, obj, implPrefix+"Access.AccessDialog", r.path, app.ID, parent, title, subtitle, body, opts)
	if err != nil {
		s.log.Warn("access dialog failed", "err", err)
		return ResponseOther
	}
	return code
}

// appName is how dialogs name an app.
func appName(app *AppInfo, generic string) string {
	if app.ID == "" {
		return generic
	}
	return app.ID
}

// askPermission implements the common yes/no/ask flow of a simple table:
// "no" denies, "yes" allows, otherwise the Access dialog decides and an
// unset entry stores the answer.
func (s *Server) askPermission(ctx context.Context, r *Request, app *AppInfo, table, id, parent, title, subtitle, icon string, modal bool) bool {
	perm := s.permission(ctx, table, id, app.ID)
	switch perm {
	case permNo:
		return false
	case permYes:
		return true
	}
	code := s.accessDialog(ctx, r, app, parent, title, subtitle,
		"This permission can be changed at any time from the privacy settings.",
		map[string]dbus.Variant{
			"deny_label":  dbus.MakeVariant("Deny"),
			"grant_label": dbus.MakeVariant("Allow"),
			"icon":        dbus.MakeVariant(icon),
			"modal":       dbus.MakeVariant(modal),
		})
	if perm == permUnset {
		v := permNo
		if code == ResponseSuccess {
			v = permYes
		}
		_ = s.setPermission(ctx, table, id, app.ID, v)
	}
	return code == ResponseSuccess
}

// account is org.freedesktop.portal.Account.
type account struct {
	s    *Server
	impl dbus.BusObject
	docs DocumentExporter
}

var accountOptions = optionTypes{"handle_token": "s", "reason": "s"}

// GetUserInformation is Account.GetUserInformation.
func (p *account) GetUserInformation(msg dbus.Message, window string, opts map[string]dbus.Variant) (dbus.ObjectPath, *dbus.Error) {
	return p.s.startRequest(&msg, opts, accountOptions, false, nil, func(ctx context.Context, r *Request, app *AppInfo, fwd map[string]dbus.Variant) (uint32, map[string]dbus.Variant) {
		if s, _ := fwd["reason"].Value().(string); len([]rune(s)) > 256 {
			delete(fwd, "reason") // upstream drops overly long reasons silently
		}
		code, res, err := r.backendResponse(ctx, p.impl, implPrefix+"Account.GetUserInformation", r.path, app.ID, window, fwd)
		if err != nil || code != ResponseSuccess {
			return code, nil
		}
		out := map[string]dbus.Variant{}
		for _, k := range []string{"id", "name"} {
			if v, ok := res[k]; ok && v.Signature().String() == "s" {
				out[k] = v
			}
		}
		if img, ok := res["image"].Value().(string); ok {
			if u, ok := p.s.exportURI(ctx, p.docs, app, img, 0); ok {
				out["image"] = dbus.MakeVariant(u)
			}
		}
		return code, out
	})
}

// email is org.freedesktop.portal.Email.
type email struct {
	s    *Server
	impl dbus.BusObject
}

var (
	emailOptions = optionTypes{"handle_token": "s", "address": "s", "addresses": "as", "cc": "as", "bcc": "as",
		"subject": "s", "body": "s", "activation_token": "s", "attachment_fds": "ah"}
	emailRE = regexp.MustCompile(`^[a-zA-Z0-9.!#$%&'*+/=?^_` + "`" + `{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$`)
)

func checkEmailOptions(opts map[string]dbus.Variant) error {
	var addrs []string
	if a, ok := opts["address"].Value().(string); ok {
		addrs = append(addrs, a)
	}
	for _, k := range []string{"addresses", "cc", "bcc"} {
		if l, ok := opts[k].Value().([]string); ok {
			addrs = append(addrs, l...)
		}
	}
	for _, a := range addrs {
		if !emailRE.MatchString(a) {
			return wrapf(ErrInvalidArgument, "'%s' does not look like an email address", a)
		}
	}
	if s, ok := opts["subject"].Value().(string); ok {
		if strings.Contains(s, "\n") {
			return wrapf(ErrInvalidArgument, "Not accepting multi-line subjects")
		}
		if len([]rune(s)) > 200 {
			return wrapf(ErrInvalidArgument, "Not accepting extremely long subjects")
		}
	}
	return nil
}

// ComposeEmail is Email.ComposeEmail.
func (p *email) ComposeEmail(msg dbus.Message, parent string, opts map[string]dbus.Variant) (dbus.ObjectPath, *dbus.Error) {
	hs, _ := opts["attachment_fds"].Value().([]dbus.UnixFDIndex)
	fds := p.s.bus.TakeFDs(hs)
	defer func() {
		for _, fd := range fds {
			if fd >= 0 {
				unix.Close(fd)
			}
		}
	}()
	var attachments []string
	return p.s.startRequest(&msg, opts, emailOptions, true, func(app *AppInfo) error {
		if err := checkEmailOptions(opts); err != nil {
			return err
		}
		for _, fd := range fds {
			path, _, err := pathForFD(app, fd)
			if err != nil {
				return wrapf(ErrInvalidArgument, "Invalid attachment fd passed")
			}
			attachments = append(attachments, path)
		}
		return nil
	}, func(ctx context.Context, r *Request, app *AppInfo, fwd map[string]dbus.Variant) (uint32, map[string]dbus.Variant) {
		delete(fwd, "attachment_fds")
		if attachments != nil {
			fwd["attachments"] = dbus.MakeVariant(attachments)
		}
		code, _, err := r.backendResponse(ctx, p.impl, implPrefix+"Email.ComposeEmail", r.path, app.ID, parent, fwd)
		if err != nil {
			return ResponseOther, nil
		}
		return code, nil
	})
}

// screenshot is org.freedesktop.portal.Screenshot.
type screenshot struct {
	s           *Server
	impl        dbus.BusObject
	docs        DocumentExporter
	implVersion uint32
}

var (
	screenshotOptions = optionTypes{"handle_token": "s", "modal": "b", "interactive": "b"}
	pickColorOptions  = optionTypes{"handle_token": "s"}
)

// Screenshot is Screenshot.Screenshot.
func (p *screenshot) Screenshot(msg dbus.Message, parent string, opts map[string]dbus.Variant) (dbus.ObjectPath, *dbus.Error) {
	return p.s.startRequest(&msg, opts, screenshotOptions, false, nil, func(ctx context.Context, r *Request, app *AppInfo, fwd map[string]dbus.Variant) (uint32, map[string]dbus.Variant) {
		if p.implVersion >= 2 {
			if !optBool(opts, "interactive", false) {
				name := appName(app, "Applications")
				title := fmt.Sprintf("Allow %s to Take Screenshots?", name)
				sub := fmt.Sprintf("%s wants to be able to take screenshots at any time.", appName(app, "An application"))
				if !p.s.askPermission(ctx, r, app, "screenshot", "screenshot", parent, title, sub, "applets-screenshooter-symbolic", optBool(opts, "modal", true)) {
					return ResponseOther, nil
				}
			}
			fwd["permission_store_checked"] = dbus.MakeVariant(true)
		}
		code, res, err := r.backendResponse(ctx, p.impl, implPrefix+"Screenshot.Screenshot", r.path, app.ID, parent, fwd)
		if err != nil || code != ResponseSuccess {
			return code, nil
		}
		uri, ok := res["uri"].Value().(string)
		if !ok {
			return code, nil
		}
		out := map[string]dbus.Variant{}
		if u, ok := p.s.exportURI(ctx, p.docs, app, uri, DocDeletable); ok {
			out["uri"] = dbus.MakeVariant(u)
		}
		return code, out
	})
}

// PickColor is Screenshot.PickColor.
func (p *screenshot) PickColor(msg dbus.Message, parent string, opts map[string]dbus.Variant) (dbus.ObjectPath, *dbus.Error) {
	return p.s.startRequest(&msg, opts, pickColorOptions, false, nil, func(ctx context.Context, r *Request, app *AppInfo, fwd map[string]dbus.Variant) (uint32, map[string]dbus.Variant) {
		code, res, err := r.backendResponse(ctx, p.impl, implPrefix+"Screenshot.PickColor", r.path, app.ID, parent, fwd)
		if err != nil || code != ResponseSuccess {
			return code, nil
		}
		out := map[string]dbus.Variant{}
		if v, ok := res["color"]; ok && v.Signature().String() == "(ddd)" {
			out["color"] = v
		}
		return code, out
	})
}

// wallpaper is org.freedesktop.portal.Wallpaper.
type wallpaper struct {
	s    *Server
	impl dbus.BusObject
}

var wallpaperOptions = optionTypes{"handle_token": "s", "show-preview": "b", "set-on": "s"}

func checkSetOn(opts map[string]dbus.Variant) error {
	if v, ok := opts["set-on"].Value().(string); ok && v != "both" && v != "background" && v != "lockscreen" {
		return wrapf(ErrInvalidArgument, "Unsupported value: %s", v)
	}
	return nil
}

func (p *wallpaper) set(msg *dbus.Message, parent, uri string, fd int, opts map[string]dbus.Variant) (dbus.ObjectPath, *dbus.Error) {
	return p.s.startRequest(msg, opts, wallpaperOptions, false, nil,
		func(ctx context.Context, r *Request, app *AppInfo, fwd map[string]dbus.Variant) (uint32, map[string]dbus.Variant) {
			if checkSetOn(fwd) != nil {
				delete(fwd, "set-on") // invalid values are dropped, as upstream
			}
			if fd >= 0 {
				defer unix.Close(fd)
			}
			perm := p.s.permission(ctx, "wallpaper", "wallpaper", app.ID)
			if perm == permNo {
				return ResponseOther, nil
			}
			if !optBool(opts, "show-preview", false) && perm != permYes {
				title := fmt.Sprintf("Allow %s to Set Backgrounds?", appName(app, "Applications"))
				sub := fmt.Sprintf("%s is requesting to be able to change the background image.", appName(app, "An application"))
				if !p.s.askPermission(ctx, r, app, "wallpaper", "wallpaper", parent, title, sub, "preferences-desktop-wallpaper-symbolic", true) {
					return ResponseOther, nil
				}
			}
			if fd >= 0 {
				path, _, err := pathForFD(app, fd)
				if err != nil {
					return ResponseOther, nil
				}
				uri = (&url.URL{Scheme: "file", Path: path}).String()
			}
			call := r.callBackend(ctx, p.impl, implPrefix+"Wallpaper.SetWallpaperURI", r.path, app.ID, parent, uri, fwd)
			code, ok := bodyArg[uint32](call, 0)
			if !ok {
				return ResponseOther, nil
			}
			return code, nil
		})
}

// SetWallpaperURI is Wallpaper.SetWallpaperURI.
func (p *wallpaper) SetWallpaperURI(msg dbus.Message, parent, uri string, opts map[string]dbus.Variant) (dbus.ObjectPath, *dbus.Error) {
	return p.set(&msg, parent, uri, -1, opts)
}

// SetWallpaperFile is Wallpaper.SetWallpaperFile.
func (p *wallpaper) SetWallpaperFile(msg dbus.Message, parent string, h dbus.UnixFDIndex, opts map[string]dbus.Variant) (dbus.ObjectPath, *dbus.Error) {
	fd, ok := p.s.bus.TakeFD(h)
	if !ok {
		return "", DBusError(wrapf(ErrInvalidArgument, "Invalid file descriptor"))
	}
	path, err := p.set(&msg, parent, "", fd, opts)
	if err != nil {
		unix.Close(fd)
	}
	return path, err
}

// printPortal is org.freedesktop.portal.Print.
type printPortal struct {
	s    *Server
	impl dbus.BusObject
}

var (
	printOptions        = optionTypes{"handle_token": "s", "token": "u", "modal": "b", "supported_output_file_formats": "as"}
	preparePrintOptions = optionTypes{"handle_token": "s", "modal": "b", "accept_label": "s", "supported_output_file_formats": "as"}
)

func checkPrintOptions(opts map[string]dbus.Variant) error {
	if l, ok := opts["supported_output_file_formats"].Value().([]string); ok {
		for _, f := range l {
			if f != "pdf" && f != "ps" && f != "svg" {
				return wrapf(ErrInvalidArgument, "Unsupported output file format: %s", f)
			}
		}
	}
	return nil
}

func (p *printPortal) check(*AppInfo) error {
	if p.s.lockdown.get("disable-printing") {
		return wrapf(ErrNotAllowed, "Printing disabled")
	}
	return nil
}

// Print is Print.Print.
func (p *printPortal) Print(msg dbus.Message, parent, title string, h dbus.UnixFDIndex, opts map[string]dbus.Variant) (dbus.ObjectPath, *dbus.Error) {
	fd, ok := p.s.bus.TakeFD(h)
	if !ok {
		return "", DBusError(wrapf(ErrInvalidArgument, "Invalid file descriptor"))
	}
	started := false
	defer func() {
		if !started {
			unix.Close(fd)
		}
	}()
	return p.s.startRequest(&msg, opts, printOptions, false, func(app *AppInfo) error {
		if err := p.check(app); err != nil {
			return err
		}
		started = true
		return nil
	}, func(ctx context.Context, r *Request, app *AppInfo, fwd map[string]dbus.Variant) (uint32, map[string]dbus.Variant) {
		defer unix.Close(fd)
		if checkPrintOptions(fwd) != nil {
			delete(fwd, "supported_output_file_formats")
		}
		code, _, err := r.backendResponse(ctx, p.impl, implPrefix+"Print.Print", r.path, app.ID, parent, title, p.s.bus.LendFD(fd), fwd)
		if err != nil {
			return ResponseOther, nil
		}
		return code, nil
	})
}

// PreparePrint is Print.PreparePrint.
func (p *printPortal) PreparePrint(msg dbus.Message, parent, title string, settings, pageSetup, opts map[string]dbus.Variant) (dbus.ObjectPath, *dbus.Error) {
	return p.s.startRequest(&msg, opts, preparePrintOptions, false, p.check, func(ctx context.Context, r *Request, app *AppInfo, fwd map[string]dbus.Variant) (uint32, map[string]dbus.Variant) {
		if checkPrintOptions(fwd) != nil {
			delete(fwd, "supported_output_file_formats")
		}
		code, res, err := r.backendResponse(ctx, p.impl, implPrefix+"Print.PreparePrint", r.path, app.ID, parent, title,
			normalizeMap(settings), normalizeMap(pageSetup), fwd)
		if err != nil || code != ResponseSuccess {
			return code, nil
		}
		return code, optionTypes{"settings": "a{sv}", "page-setup": "a{sv}", "token": "u"}.filter(res)
	})
}
