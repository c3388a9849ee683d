package portals

import (
	"encoding/xml"
	"errors"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"unicode"

	"github.com/godbus/dbus/v5"
	"golang.org/x/sys/unix"
)

// notificationPortal is org.freedesktop.portal.Notification (version 2):
// it validates and re-encodes notifications before the backend sees them.
type notificationPortal struct {
	s           *Server
	impl        dbus.BusObject
	implVersion uint32
	getenv      Env

	mu        sync.Mutex
	supported map[string]dbus.Variant
	active    map[[2]string]string // (app id, notification id) → sender
}

var (
	priorities     = []string{"low", "normal", "high", "urgent"}
	buttonPurposes = []string{"system.custom-alert", "im.reply-with-text", "call.accept", "call.decline",
		"call.hang-up", "call.enable-speakerphone", "call.disable-speakerphone"}
	displayHints = []string{"transient", "tray", "persistent", "hide-on-lock-screen",
		"hide-content-on-lock-screen", "show-as-new"}
	categories = []string{"im.received", "alarm.ringing", "call.incoming", "call.ongoing", "call.unanswered",
		"weather.warning.extreme", "cellbroadcast.danger.extreme", "cellbroadcast.danger.severe",
		"cellbroadcast.amberalert", "cellbroadcast.test", "os.battery.low", "browser.web-notification"}
)

func wrongType(key string, v dbus.Variant, want string) error {
	return wrapf(ErrInvalidArgument, "invalid type for key %s: expected %s, got %s", key, want, v.Signature())
}

// parsed is the notification as forwarded, plus fds to close afterwards.
type parsedNotification struct {
	out map[string]dbus.Variant
	fds []int
}

func (pn *parsedNotification) close() {
	for _, fd := range pn.fds {
		unix.Close(fd)
	}
}

func (p *notificationPortal) parse(in map[string]dbus.Variant) (*parsedNotification, error) {
	pn := &parsedNotification{out: map[string]dbus.Variant{}}
	v2 := p.implVersion > 1
	for key, v := range in {
		var err error
		switch {
		case key == "title" || key == "body" || key == "default-action":
			if v.Signature().String() != "s" {
				err = wrongType(key, v, "s")
			} else {
				pn.out[key] = v
			}
		case key == "markup-body" && v2:
			s, ok := v.Value().(string)
			if !ok {
				err = wrongType(key, v, "s")
				break
			}
			var body string
			if body, err = cleanMarkup(s); err != nil {
				err = wrapf(ErrInvalidArgument, "invalid markup-body: %v", err)
			} else {
				pn.out[key] = dbus.MakeVariant(body)
			}
		case key == "icon":
			if err = p.parseIcon(pn, v); err != nil {
				err = wrapf(errors.Unwrap(err), "invalid icon: %v", err)
			}
		case key == "sound" && v2:
			if err = p.parseSound(pn, v); err != nil {
				err = wrapf(errors.Unwrap(err), "invalid sound: %v", err)
			}
		case key == "priority":
			s, ok := v.Value().(string)
			if !ok {
				err = wrongType(key, v, "s")
			} else if !slices.Contains(priorities, s) {
				err = wrapf(ErrInvalidArgument, "%s not a priority", s)
			} else {
				pn.out[key] = v
			}
		case key == "default-action-target":
			pn.out[key] = normalizeVariant(v)
		case key == "buttons":
			err = p.parseButtons(pn, v)
		case key == "display-hint" && v2:
			hints, ok := v.Value().([]string)
			if !ok {
				err = wrongType(key, v, "as")
				break
			}
			for _, h := range hints {
				if !slices.Contains(displayHints, h) {
					err = wrapf(ErrInvalidArgument, "%s not a display-hint", h)
				}
			}
			if err == nil && len(hints) > 0 {
				pn.out[key] = v
			}
		case key == "category" && v2:
			s, ok := v.Value().(string)
			if !ok {
				err = wrongType(key, v, "s")
			} else if !slices.Contains(categories, s) && !strings.HasPrefix(s, "x-") {
				err = wrapf(ErrInvalidArgument, "%s is not a supported category", s)
			} else {
				pn.out[key] = v
			}
		}
		if err != nil {
			pn.close()
			return nil, wrapf(errors.Unwrap(err), "invalid notification: %v", err)
		}
	}
	return pn, nil
}

func (p *notificationPortal) parseButtons(pn *parsedNotification, v dbus.Variant) error {
	list, ok := v.Value().([]map[string]dbus.Variant)
	if !ok {
		return wrongType("buttons", v, "aa{sv}")
	}
	out := []map[string]dbus.Variant{}
	for _, b := range list {
		nb := map[string]dbus.Variant{}
		for k, bv := range b {
			switch {
			case k == "label" || k == "action":
				if bv.Signature().String() != "s" {
					return wrapf(ErrInvalidArgument, "invalid button: %v", wrongType(k, bv, "s"))
				}
				nb[k] = bv
			case k == "target":
				nb[k] = normalizeVariant(bv)
			case k == "purpose" && p.implVersion > 1:
				s, ok := bv.Value().(string)
				if !ok || !slices.Contains(buttonPurposes, s) && !strings.HasPrefix(s, "x-") {
					return wrapf(ErrInvalidArgument, "invalid button: %v is not a supported button purpose", bv)
				}
				nb[k] = bv
			}
		}
		if _, ok := nb["label"]; !ok {
			if _, ok := nb["purpose"]; !ok {
				return wrapf(ErrInvalidArgument, "invalid button: label or purpose key is missing")
			}
		}
		if _, ok := nb["action"]; !ok {
			return wrapf(ErrInvalidArgument, "invalid button: action key is missing")
		}
		out = append(out, nb)
	}
	pn.out["buttons"] = dbus.MakeVariant(out)
	return nil
}

// serialized splits a serialized GIcon/sound "(sv)".
func serialized(v dbus.Variant) (string, dbus.Variant, bool) {
	if v.Signature().String() != "(sv)" {
		return "", dbus.Variant{}, false
	}
	parts, ok := v.Value().([]any)
	if !ok || len(parts) != 2 {
		return "", dbus.Variant{}, false
	}
	k, _ := parts[0].(string)
	inner, ok := parts[1].(dbus.Variant)
	return k, inner, ok
}

func (p *notificationPortal) parseIcon(pn *parsedNotification, v dbus.Variant) error {
	if s, ok := v.Value().(string); ok {
		// A bare string is a themed icon name (or a GIcon string form).
		if strings.ContainsAny(s, "/") {
			return wrapf(ErrNotAllowed, "only themed icons can be a string")
		}
		// Like GThemedIcon: the name plus its symbolic (or regular) twin.
		twin := s + "-symbolic"
		if base, ok := strings.CutSuffix(s, "-symbolic"); ok {
			twin = base
		}
		pn.out["icon"] = dbus.MakeVariant(struct {
			K string
			V dbus.Variant
		}{"themed", dbus.MakeVariant([]string{s, twin})})
		return nil
	}
	key, inner, ok := serialized(v)
	if !ok {
		return wrongType("icon", v, "(sv)")
	}
	switch key {
	case "themed":
		if inner.Signature().String() != "as" {
			return wrongType(key, inner, "as")
		}
		pn.out["icon"] = normalizeVariant(v)
	case "bytes":
		b, ok := inner.Value().([]byte)
		if !ok {
			return wrongType(key, inner, "ay")
		}
		fd, err := sealedFromBytes(b)
		if err != nil {
			return nil
		}
		pn.fds = append(pn.fds, fd)
		if !p.validate("XDP_VALIDATE_ICON", fd, "--ruleset", "notification") {
			return nil
		}
		if p.implVersion > 1 {
			pn.out["icon"] = p.fdPair(fd)
		} else {
			pn.out["icon"] = normalizeVariant(v)
		}
	case "file-descriptor":
		fd, err := p.s.sealedFromHandle(inner)
		if err != nil {
			return err
		}
		pn.fds = append(pn.fds, fd)
		if !p.validate("XDP_VALIDATE_ICON", fd, "--ruleset", "notification") {
			return nil
		}
		if p.implVersion > 1 {
			pn.out["icon"] = p.fdPair(fd)
		} else if data, err := readAllAt(fd); err == nil {
			pn.out["icon"] = dbus.MakeVariant(struct {
				K string
				V dbus.Variant
			}{"bytes", dbus.MakeVariant(data)})
		}
	}
	return nil
}

func (p *notificationPortal) parseSound(pn *parsedNotification, v dbus.Variant) error {
	if s, ok := v.Value().(string); ok {
		if s == "silent" || s == "default" {
			pn.out["sound"] = v
			return nil
		}
		return wrapf(ErrNotAllowed, "invalid option")
	}
	key, inner, ok := serialized(v)
	if !ok {
		return wrongType("sound", v, "(sv)")
	}
	if key != "file-descriptor" {
		return nil // other forms are dropped
	}
	fd, err := p.s.sealedFromHandle(inner)
	if err != nil {
		return err
	}
	pn.fds = append(pn.fds, fd)
	if !p.validate("XDP_VALIDATE_SOUND", fd) {
		return wrapf(ErrInvalidArgument, "Invalid sound: The sound data is invalid")
	}
	pn.out["sound"] = p.fdPair(fd)
	return nil
}

// fdPair is the ("file-descriptor", <h>) form for the backend; fd must
// stay open until the notification is sent (once).
func (p *notificationPortal) fdPair(fd int) dbus.Variant {
	return dbus.MakeVariant(struct {
		K string
		V dbus.Variant
	}{"file-descriptor", dbus.MakeVariant(p.s.bus.LendFD(fd))})
}

const requiredSeals = unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE

// sealedFromHandle takes a memfd passed by the caller and seals it.
func (s *Server) sealedFromHandle(v dbus.Variant) (int, error) {
	h, ok := v.Value().(dbus.UnixFDIndex)
	if !ok {
		return -1, wrongType("file-descriptor", v, "h")
	}
	fd, ok := s.bus.TakeFD(h)
	if !ok {
		return -1, wrapf(ErrInvalidArgument, "Invalid file descriptor: index not found")
	}
	seals, err := unix.FcntlInt(uintptr(fd), unix.F_GET_SEALS, 0)
	if err == nil && seals&unix.F_SEAL_SEAL != 0 && seals&requiredSeals != requiredSeals {
		err = unix.EPERM
	}
	if err == nil {
		_, err = unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, requiredSeals)
	}
	if err != nil {
		unix.Close(int(fd))
		return -1, wrapf(ErrInvalidArgument, "Invalid file descriptor: The file descriptor needs to be sealable")
	}
	return int(fd), nil
}

func sealedFromBytes(b []byte) (int, error) {
	fd, err := unix.MemfdCreate("xdp-notification", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return -1, err
	}
	if _, err := unix.Write(fd, b); err != nil {
		unix.Close(fd)
		return -1, err
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, requiredSeals|unix.F_SEAL_SEAL); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

func readAllAt(fd int) ([]byte, error) {
	f := os.NewFile(uintptr(fd), "sealed")
	data, err := io.ReadAll(io.NewSectionReader(f, 0, 1<<24))
	return data, err
}

// validate runs the validator named by env var (XDP_VALIDATE_ICON /
// XDP_VALIDATE_SOUND) on fd, passed as fd 3; without a validator the data
// is not trusted.
func (p *notificationPortal) validate(envVar string, fd int, extra ...string) bool {
	validator := p.getenv(envVar)
	if validator == "" {
		return false
	}
	args := []string{}
	if p.getenv(envVar+"_INSECURE") == "" {
		args = append(args, "--sandbox")
	}
	args = append(args, "--fd", "3")
	args = append(args, extra...)
	dup, err := unix.Dup(fd)
	if err != nil {
		return false
	}
	f := os.NewFile(uintptr(dup), "validator-input")
	defer f.Close()
	_, _ = f.Seek(0, io.SeekStart)
	cmd := exec.Command(validator, args...)
	cmd.ExtraFiles = []*os.File{f}
	return cmd.Run() == nil
}

// cleanMarkup keeps <b>, <i> and <a href> of a well-formed markup body,
// escapes all text and collapses runs of white space.
func cleanMarkup(s string) (string, error) {
	dec := xml.NewDecoder(strings.NewReader("<markup>" + s + "</markup>"))
	dec.Strict = true
	var b strings.Builder
	var links []bool // per open <a>: whether it was kept (it needs an href)
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "b", "i":
				b.WriteString("<" + t.Name.Local + ">")
			case "a":
				kept := false
				for _, a := range t.Attr {
					if a.Name.Local == "href" {
						b.WriteString(`<a href="` + escapeMarkup(a.Value) + `">`)
						kept = true
						break
					}
				}
				links = append(links, kept)
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "b", "i":
				b.WriteString("</" + t.Name.Local + ">")
			case "a":
				kept := len(links) > 0 && links[len(links)-1]
				links = links[:max(len(links)-1, 0)]
				if kept {
					b.WriteString("</a>")
				}
			}
		case xml.CharData:
			b.WriteString(escapeMarkup(string(t)))
		}
	}
	return collapseSpace(b.String()), nil
}

func escapeMarkup(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "'", "&apos;", `"`, "&quot;").Replace(s)
}

func collapseSpace(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) {
			space = true
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// AddNotification is Notification.AddNotification.
func (p *notificationPortal) AddNotification(msg dbus.Message, id string, n map[string]dbus.Variant) *dbus.Error {
	c, app, err := p.s.appInfo(&msg)
	if err != nil {
		return DBusError(err)
	}
	if !app.IsHost() {
		switch p.s.permission(c.ctx, "notifications", "notification", app.ID) {
		case permNo:
			return DBusError(wrapf(ErrNotAllowed, "Showing notifications is not allowed"))
		case permUnset:
			_ = p.s.setPermission(c.ctx, "notifications", "notification", app.ID, permYes)
		}
	}
	pn, err := p.parse(n)
	if err != nil {
		return DBusError(err)
	}
	defer pn.close()
	p.mu.Lock()
	p.active[[2]string{app.ID, id}] = c.name
	p.mu.Unlock()
	if err := p.impl.CallWithContext(c.ctx, implPrefix+"Notification.AddNotification", 0, app.ID, id, pn.out).Err; err != nil {
		p.s.log.Warn("notification backend failed", "err", err)
	}
	return nil
}

// RemoveNotification is Notification.RemoveNotification.
func (p *notificationPortal) RemoveNotification(msg dbus.Message, id string) *dbus.Error {
	c, app, err := p.s.appInfo(&msg)
	if err != nil {
		return DBusError(err)
	}
	p.mu.Lock()
	delete(p.active, [2]string{app.ID, id})
	p.mu.Unlock()
	if err := p.impl.CallWithContext(c.ctx, implPrefix+"Notification.RemoveNotification", 0, app.ID, id).Err; err != nil {
		p.s.log.Warn("notification backend failed", "err", err)
	}
	return nil
}

func (p *notificationPortal) init() {
	p.active = map[[2]string]string{}
	p.supported = map[string]dbus.Variant{}
	if v, err := p.impl.GetProperty(implPrefix + "Notification.SupportedOptions"); err == nil {
		if m, ok := v.Value().(map[string]dbus.Variant); ok {
			p.supported = normalizeMap(m)
		}
	}
	p.s.props.add(portalIface+"Notification", "SupportedOptions", func() dbus.Variant {
		p.mu.Lock()
		defer p.mu.Unlock()
		return dbus.MakeVariant(p.supported)
	})
	p.s.watchSignals(p.s.conn, p.impl.Destination(), implPrefix+"Notification", func(sig *dbus.Signal) {
		if sig.Name != implPrefix+"Notification.ActionInvoked" || len(sig.Body) != 4 {
			return
		}
		appID, _ := sig.Body[0].(string)
		id, _ := sig.Body[1].(string)
		action, _ := sig.Body[2].(string)
		params, _ := sig.Body[3].([]dbus.Variant)
		p.mu.Lock()
		dest, ok := p.active[[2]string{appID, id}]
		p.mu.Unlock()
		if !ok {
			return
		}
		if params == nil {
			params = []dbus.Variant{}
		}
		for i := range params {
			params[i] = normalizeVariant(params[i])
		}
		_ = p.s.sendTo(dest, DesktopPath, portalIface+"Notification.ActionInvoked", id, action, params)
	})
}
