package portals

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/godbus/dbus/v5"
)

// fileChooser is org.freedesktop.portal.FileChooser over impl.FileChooser.
type fileChooser struct {
	s    *Server
	impl dbus.BusObject
	docs *busDocuments
}

var (
	openFileOptions = optionTypes{"accept_label": "s", "modal": "b", "multiple": "b", "directory": "b",
		"filters": "a(sa(us))", "current_filter": "(sa(us))", "choices": "a(ssa(ss)s)", "handle_token": "s"}
	saveFileOptions = optionTypes{"accept_label": "s", "modal": "b", "filters": "a(sa(us))",
		"current_filter": "(sa(us))", "current_name": "s", "choices": "a(ssa(ss)s)", "handle_token": "s"}
	saveFilesOptions = optionTypes{"accept_label": "s", "modal": "b", "current_name": "s",
		"current_folder": "ay", "files": "aay", "choices": "a(ssa(ss)s)", "handle_token": "s"}
)

type fileFilter struct {
	Name     string
	Patterns []struct {
		Kind    uint32
		Pattern string
	}
}

type choice struct {
	ID, Label string
	Options   []struct{ ID, Label string }
	Default   string
}

func checkFilter(f fileFilter) error {
	if f.Name == "" {
		return fmt.Errorf("%w: invalid filter: name is empty", ErrInvalidArgument)
	}
	if len(f.Patterns) == 0 {
		return fmt.Errorf("%w: invalid filter: no filters", ErrInvalidArgument)
	}
	for _, p := range f.Patterns {
		if p.Kind > 1 {
			return fmt.Errorf("%w: invalid filter: invalid filter type: %d", ErrInvalidArgument, p.Kind)
		}
		if p.Pattern == "" {
			return fmt.Errorf("%w: invalid filter: empty pattern", ErrInvalidArgument)
		}
	}
	return nil
}

// checkFileChooserOptions validates filters, current_filter and choices.
func checkFileChooserOptions(t optionTypes, opts map[string]dbus.Variant) error {
	if err := t.check(opts); err != nil {
		return err
	}
	var filters []fileFilter
	if v, ok := opts["filters"]; ok {
		if err := dbus.Store([]any{v.Value()}, &filters); err != nil {
			return fmt.Errorf("%w: filters: %v", ErrInvalidArgument, err)
		}
		for _, f := range filters {
			if err := checkFilter(f); err != nil {
				return err
			}
		}
	}
	if v, ok := opts["current_filter"]; ok {
		var cur fileFilter
		if err := dbus.Store([]any{v.Value()}, &cur); err != nil {
			return fmt.Errorf("%w: current_filter: %v", ErrInvalidArgument, err)
		}
		if err := checkFilter(cur); err != nil {
			return err
		}
		if len(filters) > 0 {
			found := false
			for _, f := range filters {
				if fmt.Sprint(f) == fmt.Sprint(cur) {
					found = true
				}
			}
			if !found {
				return fmt.Errorf("%w: current_filter, if specified, must be present in filters list if list is nonempty", ErrInvalidArgument)
			}
		}
	}
	if v, ok := opts["choices"]; ok {
		var choices []choice
		if err := dbus.Store([]any{v.Value()}, &choices); err != nil {
			return fmt.Errorf("%w: choices: %v", ErrInvalidArgument, err)
		}
		for _, c := range choices {
			if err := checkChoice(c); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkChoice(c choice) error {
	if c.ID == "" || c.Label == "" {
		return fmt.Errorf("%w: invalid choice: id or label is empty", ErrInvalidArgument)
	}
	if len(c.Options) == 0 {
		if c.Default != "" && c.Default != "true" && c.Default != "false" {
			return fmt.Errorf("%w: invalid choice: bad current option: %s", ErrInvalidArgument, c.Default)
		}
		return nil
	}
	seen := c.Default == ""
	for _, o := range c.Options {
		if o.ID == "" || o.Label == "" {
			return fmt.Errorf("%w: invalid choice: option id or label is empty", ErrInvalidArgument)
		}
		if o.ID == c.Default {
			seen = true
		}
	}
	if !seen {
		return fmt.Errorf("%w: invalid choice: bad current option: %s", ErrInvalidArgument, c.Default)
	}
	return nil
}

// hostFolder translates a folder path inside the document portal back to
// the host; other paths are returned unchanged.
func (p *fileChooser) hostFolder(ctx context.Context, b []byte) []byte {
	path := strings.TrimRight(string(b), "\x00")
	if id, ok := docPathID(path); ok {
		if hp, ok := p.docs.hostPathOfDoc(ctx, id); ok {
			return append([]byte(filepath.Dir(hp)), 0)
		}
	}
	return b
}

func (p *fileChooser) hostFile(ctx context.Context, b []byte) []byte {
	path := strings.TrimRight(string(b), "\x00")
	if id, ok := docPathID(path); ok {
		if hp, ok := p.docs.hostPathOfDoc(ctx, id); ok {
			return append([]byte(hp), 0)
		}
	}
	return b
}

func (p *fileChooser) start(msg *dbus.Message, method, parent, title string, opts map[string]dbus.Variant, types optionTypes, save bool) (dbus.ObjectPath, *dbus.Error) {
	c, app, err := p.s.appInfo(msg)
	if err != nil {
		return "", DBusError(err)
	}
	if save && p.s.lockdown.get("disable-save-to-disk") {
		return "", DBusError(wrapf(ErrNotAllowed, "File saving disabled"))
	}
	if err := checkFileChooserOptions(types, opts); err != nil {
		return "", DBusError(err)
	}
	fwd := types.filter(opts, "handle_token", "current_folder", "current_file")
	for _, k := range []string{"current_folder", "current_file"} {
		if b, ok := opts[k].Value().([]byte); ok {
			if k == "current_folder" {
				fwd[k] = dbus.MakeVariant(p.hostFolder(c.ctx, b))
			} else if method == "SaveFile" {
				fwd[k] = dbus.MakeVariant(p.hostFile(c.ctx, b))
			}
		}
	}
	flags := DocWritable
	if save {
		flags |= DocForSave
	}
	if optBool(opts, "directory", false) {
		flags |= DocDirectory
	}
	r, err := p.s.newRequest(c, msg, opts)
	if err != nil {
		return "", DBusError(err)
	}
	r.Run(func(ctx context.Context) (uint32, map[string]dbus.Variant) {
		code, res, err := r.backendResponse(ctx, p.impl, implPrefix+"FileChooser."+method, r.path, app.ID, parent, title, fwd)
		if err != nil {
			p.s.log.Debug("file chooser backend failed", "err", err)
			code, res = ResponseOther, nil
		}
		return code, p.results(ctx, app, code, res, flags)
	})
	return r.path, nil
}

// results turns the backend's answer into the caller's: choices and
// current_filter pass through, uris are file:// only and, for sandboxed
// callers, exported through the document portal.
func (p *fileChooser) results(ctx context.Context, app *AppInfo, code uint32, res map[string]dbus.Variant, flags DocFlags) map[string]dbus.Variant {
	out := map[string]dbus.Variant{}
	uris := []string{}
	if code == ResponseSuccess {
		if w, ok := res["writable"].Value().(bool); ok && !w {
			flags &^= DocWritable
		}
		if v, ok := res["choices"]; ok && v.Signature().String() == "a(ss)" {
			out["choices"] = v
		}
		if v, ok := res["current_filter"]; ok && v.Signature().String() == "(sa(us))" {
			out["current_filter"] = v
		}
		in, _ := res["uris"].Value().([]string)
		for _, u := range in {
			if !strings.HasPrefix(u, "file://") {
				continue
			}
			if app.IsHost() {
				uris = append(uris, u)
				continue
			}
			ru, err := p.docs.ExportDocument(ctx, u, app.ID, flags)
			if err != nil {
				p.s.log.Warn("cannot export file to app", "uri", u, "app", app.ID, "err", err)
				continue
			}
			uris = append(uris, ru)
		}
	}
	out["uris"] = dbus.MakeVariant(uris)
	return out
}

// OpenFile is FileChooser.OpenFile.
func (p *fileChooser) OpenFile(msg dbus.Message, parent, title string, opts map[string]dbus.Variant) (dbus.ObjectPath, *dbus.Error) {
	return p.start(&msg, "OpenFile", parent, title, opts, openFileOptions, false)
}

// SaveFile is FileChooser.SaveFile.
func (p *fileChooser) SaveFile(msg dbus.Message, parent, title string, opts map[string]dbus.Variant) (dbus.ObjectPath, *dbus.Error) {
	return p.start(&msg, "SaveFile", parent, title, opts, saveFileOptions, true)
}

// SaveFiles is FileChooser.SaveFiles.
func (p *fileChooser) SaveFiles(msg dbus.Message, parent, title string, opts map[string]dbus.Variant) (dbus.ObjectPath, *dbus.Error) {
	return p.start(&msg, "SaveFiles", parent, title, opts, saveFilesOptions, true)
}
