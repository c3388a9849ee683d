package portals

import (
	"context"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/godbus/dbus/v5"
	"golang.org/x/sys/unix"
)

// openURI is org.freedesktop.portal.OpenURI over impl.AppChooser; the
// frontend launches the chosen handler itself.
type openURI struct {
	s    *Server
	impl dbus.BusObject
	db   desktopDB
	docs DocumentExporter
}

const usedAppsTable = "desktop-used-apps"

var openURIOptions = optionTypes{"handle_token": "s", "writable": "b", "ask": "b", "activation_token": "s"}

func (p *openURI) check(*AppInfo) error {
	if p.s.lockdown.get("disable-application-handlers") {
		return wrapf(ErrNotAllowed, "Application handlers disabled")
	}
	return nil
}

// OpenURI is OpenURI.OpenURI.
func (p *openURI) OpenURI(msg dbus.Message, parent, uri string, opts map[string]dbus.Variant) (dbus.ObjectPath, *dbus.Error) {
	return p.s.startRequest(&msg, opts, openURIOptions, false, p.check, func(ctx context.Context, r *Request, app *AppInfo, fwd map[string]dbus.Variant) (uint32, map[string]dbus.Variant) {
		u, err := url.Parse(uri)
		if err != nil || u.Scheme == "" {
			return ResponseOther, nil
		}
		scheme := strings.ToLower(u.Scheme)
		if scheme == "file" {
			return ResponseOther, nil // files go through OpenFile
		}
		return p.open(ctx, r, app, parent, uri, scheme, "x-scheme-handler/"+scheme, "", opts)
	})
}

func (p *openURI) openFD(msg *dbus.Message, parent string, h dbus.UnixFDIndex, opts map[string]dbus.Variant, dir bool) (dbus.ObjectPath, *dbus.Error) {
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
	return p.s.startRequest(msg, opts, openURIOptions, false, func(app *AppInfo) error {
		if err := p.check(app); err != nil {
			return err
		}
		started = true
		return nil
	}, func(ctx context.Context, r *Request, app *AppInfo, fwd map[string]dbus.Variant) (uint32, map[string]dbus.Variant) {
		path, fdWritable, err := pathForFD(app, fd)
		unix.Close(fd)
		if err == nil {
			if d, ok := p.docs.(*busDocuments); ok {
				path = d.realPathOfDocPath(ctx, path)
			}
		}
		writable := optBool(opts, "writable", false)
		if err != nil || writable && !fdWritable || !app.IsHost() && !writable && fdWritable {
			return ResponseOther, nil
		}
		if dir {
			var st unix.Stat_t
			if unix.Stat(path, &st) == nil && st.Mode&unix.S_IFMT != unix.S_IFDIR {
				path = path[:max(strings.LastIndexByte(path, '/'), 1)]
			}
		}
		uri := (&url.URL{Scheme: "file", Path: path}).String()
		base := path[strings.LastIndexByte(path, '/')+1:]
		return p.open(ctx, r, app, parent, uri, "file", contentTypeOf(path), base, opts)
	})
}

// OpenFile is OpenURI.OpenFile.
func (p *openURI) OpenFile(msg dbus.Message, parent string, fd dbus.UnixFDIndex, opts map[string]dbus.Variant) (dbus.ObjectPath, *dbus.Error) {
	return p.openFD(&msg, parent, fd, opts, false)
}

// OpenDirectory is OpenURI.OpenDirectory: the directory (of a file) is
// opened with the directory handler.
func (p *openURI) OpenDirectory(msg dbus.Message, parent string, fd dbus.UnixFDIndex, opts map[string]dbus.Variant) (dbus.ObjectPath, *dbus.Error) {
	return p.openFD(&msg, parent, fd, opts, true)
}

// SchemeSupported is OpenURI.SchemeSupported (version 5).
func (p *openURI) SchemeSupported(msg dbus.Message, scheme string, opts map[string]dbus.Variant) (bool, *dbus.Error) {
	if _, _, err := p.s.appInfo(&msg); err != nil {
		return false, DBusError(err)
	}
	if scheme == "" {
		return false, DBusError(wrapf(ErrInvalidArgument, "Scheme not specified"))
	}
	def, all := p.db.handlers("x-scheme-handler/" + strings.ToLower(scheme))
	return def != "" || len(all) > 0, nil
}

// latestChoice reads desktop-used-apps: [app, count, threshold] and the
// always-ask flag of the content type.
func (p *openURI) latestChoice(ctx context.Context, appID, contentType string) (id string, count, threshold int, alwaysAsk bool) {
	threshold = 3
	var perms map[string][]string
	var data dbus.Variant
	if err := p.s.conn.Object(storeName, storePath).CallWithContext(ctx, storeIface+".Lookup", 0, usedAppsTable, contentType).Store(&perms, &data); err != nil {
		return
	}
	if m, ok := data.Value().(map[string]dbus.Variant); ok {
		alwaysAsk, _ = m["always-ask"].Value().(bool)
	}
	if v, ok := perms[appID]; ok && len(v) > 0 {
		id = v[0]
		if len(v) > 1 {
			count, _ = strconv.Atoi(v[1])
		}
		if len(v) > 2 {
			if t, err := strconv.Atoi(v[2]); err == nil {
				threshold = t
			}
		}
	}
	return
}

func (p *openURI) remember(ctx context.Context, appID, contentType, chosen string) {
	id, count, threshold, _ := p.latestChoice(ctx, appID, contentType)
	if id == chosen {
		count = min(count+1, threshold)
	} else {
		count = 1
	}
	_ = p.s.setPermission(ctx, usedAppsTable, contentType, appID, chosen, strconv.Itoa(count), strconv.Itoa(threshold))
}

var defaultHandlerSchemes = []string{"http", "https", "ftp", "mailto", "webcal", "calendar"}

func (p *openURI) open(ctx context.Context, r *Request, app *AppInfo, parent, uri, scheme, contentType, basename string, opts map[string]dbus.Variant) (uint32, map[string]dbus.Variant) {
	token := optString(opts, "activation_token")
	writable := optBool(opts, "writable", false)
	def, choices := p.db.handlers(contentType)
	useDefault := slices.Contains(defaultHandlerSchemes, scheme) || contentType == "inode/directory"
	latest, count, threshold, alwaysAsk := p.latestChoice(ctx, app.ID, contentType)
	if latest != "" && !p.db.exists(latest) {
		latest = ""
	}
	skip := def != "" && useDefault || len(choices) == 1 || latest != "" && count >= threshold
	if optBool(opts, "ask", false) || alwaysAsk {
		skip = false
	}
	if skip {
		target := ""
		switch {
		case def != "" && useDefault:
			target = def
		case latest != "":
			target = latest
		case def != "":
			target = def
		case len(choices) > 0:
			target = choices[0]
		}
		if target != "" {
			if err := p.launch(ctx, target, uri, parent, writable, token); err != nil {
				p.s.log.Warn("cannot launch handler", "app", target, "err", err)
				return ResponseOther, nil
			}
			return ResponseSuccess, nil
		}
	}
	chooserOpts := map[string]dbus.Variant{"content_type": dbus.MakeVariant(contentType), "uri": dbus.MakeVariant(uri)}
	if latest != "" {
		chooserOpts["last_choice"] = dbus.MakeVariant(latest)
	} else if def != "" {
		chooserOpts["last_choice"] = dbus.MakeVariant(def)
	}
	if basename != "" {
		chooserOpts["filename"] = dbus.MakeVariant(basename)
	}
	if token != "" {
		chooserOpts["activation_token"] = dbus.MakeVariant(token)
	}
	if choices == nil {
		choices = []string{}
	}
	code, res, err := r.backendResponse(ctx, p.impl, implPrefix+"AppChooser.ChooseApplication", r.path, app.ID, parent, choices, chooserOpts)
	if err != nil {
		return ResponseOther, nil
	}
	if code != ResponseSuccess {
		return code, nil
	}
	choice, _ := res["choice"].Value().(string)
	if choice == "" {
		return code, nil // nothing chosen: nothing to launch
	}
	if t, ok := res["activation_token"].Value().(string); ok {
		token = t
	}
	p.remember(ctx, app.ID, contentType, choice)
	if err := p.launch(ctx, choice, uri, parent, writable, token); err != nil {
		p.s.log.Warn("cannot launch handler", "app", choice, "err", err)
		return ResponseOther, nil
	}
	return ResponseSuccess, nil
}

// launch starts handler id on uri; a sandboxed handler gets file URIs
// through the document portal.
func (p *openURI) launch(ctx context.Context, id, uri, parent string, writable bool, token string) error {
	kf, ok := p.db.desktopFile(id)
	if !ok {
		return wrapf(ErrNotFound, "Desktop file %s.desktop does not exist", id)
	}
	if fp, _ := kf.str("Desktop Entry", "X-Flatpak"); fp != "" && strings.HasPrefix(uri, "file:") {
		flags := DocFlags(0)
		if writable {
			flags |= DocWritable
		}
		ru, err := p.docs.ExportDocument(ctx, uri, id, flags)
		if err != nil {
			return err
		}
		uri = ru
	}
	env := []string{"PARENT_WINDOW_ID=" + parent}
	if token != "" {
		env = append(env, "XDG_ACTIVATION_TOKEN="+token, "DESKTOP_STARTUP_ID="+token)
	}
	return p.db.launch(id, uri, env)
}
