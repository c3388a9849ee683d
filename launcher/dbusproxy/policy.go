package dbusproxy

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
)

// Level is how much a client may do with a bus name. Levels are ordered:
// each includes the ones below it.
type Level int

const (
	// LevelNone hides the name: the client cannot see, call or own it.
	LevelNone Level = iota
	// LevelSee lists the name and reports its owner, but calls to it are
	// refused with AccessDenied.
	LevelSee
	// LevelTalk allows calls to the name and broadcasts from it.
	LevelTalk
	// LevelOwn allows the client to own the name.
	LevelOwn
)

var levelNames = []string{"none", "see", "talk", "own"}

func (l Level) String() string {
	if l < 0 || int(l) >= len(levelNames) {
		return fmt.Sprintf("Level(%d)", int(l))
	}
	return levelNames[l]
}

// ParseLevel parses "none", "see", "talk" or "own", the values of a
// Flatpak [Session Bus Policy] group.
func ParseLevel(s string) (Level, error) {
	if i := slices.Index(levelNames, s); i >= 0 {
		return Level(i), nil
	}
	return 0, fmt.Errorf("%w: unknown bus policy %q", ErrBadPolicy, s)
}

// Policy is what one proxied bus lets its clients do. It is plain data: the
// zero value proxies everything unfiltered.
//
// Names are bus names, or NAME.* for NAME and every name below it
// (NAME.foo, NAME.foo.bar). Unique names (":1.2") are not allowed.
type Policy struct {
	// Filter switches filtering on; without it everything passes once the
	// client has authenticated.
	Filter bool
	// SloppyNames delivers NameOwnerChanged for every unique name (the
	// accessibility bus needs it).
	SloppyNames bool
	// Names maps a name to its level (--see, --talk, --own).
	Names map[string]Level
	// Calls maps a name to call rules (--call=NAME=RULE): the name becomes
	// talkable, but only calls matching a rule pass. A rule is
	// [*|IFACE.*|IFACE.METHOD][@/path[/*]].
	Calls map[string][]string
	// Broadcasts maps a name to broadcast rules (--broadcast=NAME=RULE):
	// the broadcasts from the name that match a rule pass.
	Broadcasts map[string][]string
}

// SetLevel raises name to level l; it never lowers an existing level.
func (p *Policy) SetLevel(name string, l Level) {
	if p.Names == nil {
		p.Names = map[string]Level{}
	}
	if l > p.Names[name] {
		p.Names[name] = l
	}
}

// AddCall adds a call rule for name.
func (p *Policy) AddCall(name, rule string) {
	if p.Calls == nil {
		p.Calls = map[string][]string{}
	}
	p.Calls[name] = append(p.Calls[name], rule)
}

// AddBroadcast adds a broadcast rule for name.
func (p *Policy) AddBroadcast(name, rule string) {
	if p.Broadcasts == nil {
		p.Broadcasts = map[string][]string{}
	}
	p.Broadcasts[name] = append(p.Broadcasts[name], rule)
}

// Merge adds the levels and rules of q to p. Filter and SloppyNames are
// or-ed.
func (p *Policy) Merge(q Policy) {
	p.Filter = p.Filter || q.Filter
	p.SloppyNames = p.SloppyNames || q.SloppyNames
	for _, n := range slices.Sorted(maps.Keys(q.Names)) {
		p.SetLevel(n, q.Names[n])
	}
	for _, n := range slices.Sorted(maps.Keys(q.Calls)) {
		for _, r := range q.Calls[n] {
			p.AddCall(n, r)
		}
	}
	for _, n := range slices.Sorted(maps.Keys(q.Broadcasts)) {
		for _, r := range q.Broadcasts[n] {
			p.AddBroadcast(n, r)
		}
	}
}

// Validate reports the first name that is not a valid well-known bus name
// (optionally followed by .*), as xdg-dbus-proxy does for --see, --talk and
// --own. Rule names are checked the same way.
func (p Policy) Validate() error {
	check := func(n string) error {
		base := strings.TrimSuffix(n, ".*")
		if strings.HasPrefix(base, ":") || !validBusName(base) {
			return fmt.Errorf("%w: '%s' is not a valid dbus name", ErrBadPolicy, base)
		}
		return nil
	}
	for n, l := range p.Names {
		if l < LevelNone || l > LevelOwn {
			return fmt.Errorf("%w: level %d for %s", ErrBadPolicy, int(l), n)
		}
		if err := check(n); err != nil {
			return err
		}
	}
	for _, m := range []map[string][]string{p.Calls, p.Broadcasts} {
		for n := range m {
			if err := check(n); err != nil {
				return err
			}
		}
	}
	return nil
}

// Args returns the policy as xdg-dbus-proxy options (after ADDRESS PATH),
// in a stable order.
func (p Policy) Args() []string {
	var a []string
	if p.Filter {
		a = append(a, "--filter")
	}
	if p.SloppyNames {
		a = append(a, "--sloppy-names")
	}
	for _, n := range slices.Sorted(maps.Keys(p.Names)) {
		if l := p.Names[n]; l > LevelNone {
			a = append(a, "--"+l.String()+"="+n)
		}
	}
	for _, n := range slices.Sorted(maps.Keys(p.Calls)) {
		for _, r := range p.Calls[n] {
			a = append(a, "--call="+n+"="+r)
		}
	}
	for _, n := range slices.Sorted(maps.Keys(p.Broadcasts)) {
		for _, r := range p.Broadcasts[n] {
			a = append(a, "--broadcast="+n+"="+r)
		}
	}
	return a
}

// validBusName reports whether s is a valid well-known or unique bus name.
func validBusName(s string) bool {
	if len(s) == 0 || len(s) > 255 {
		return false
	}
	unique := s[0] == ':'
	if unique {
		s = s[1:]
	}
	elems := strings.Split(s, ".")
	if len(elems) < 2 {
		return false
	}
	for _, e := range elems {
		if e == "" {
			return false
		}
		for i, c := range e {
			switch {
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_', c == '-':
			case c >= '0' && c <= '9':
				if i == 0 && !unique {
					return false
				}
			default:
				return false
			}
		}
	}
	return true
}

// SessionBusPolicy is the policy Flatpak gives an app on the session bus:
// it may own APPID.* and org.mpris.MediaPlayer2.APPID.*, call the portals
// and receive their broadcasts, plus the entries of the app's
// [Session Bus Policy] (name → "none", "see", "talk" or "own"; "none" adds
// nothing).
func SessionBusPolicy(appID string, entries map[string]string) (Policy, error) {
	p := Policy{Filter: true}
	p.SetLevel(appID+".*", LevelOwn)
	p.SetLevel("org.mpris.MediaPlayer2."+appID+".*", LevelOwn)
	if err := p.addEntries(entries); err != nil {
		return Policy{}, err
	}
	p.AddCall("org.freedesktop.portal.*", "*")
	p.AddBroadcast("org.freedesktop.portal.*", "@/org/freedesktop/portal/*")
	return p, p.Validate()
}

// SystemBusPolicy is the policy Flatpak gives an app on the system bus: the
// entries of its [System Bus Policy] and nothing else.
func SystemBusPolicy(entries map[string]string) (Policy, error) {
	p := Policy{Filter: true}
	if err := p.addEntries(entries); err != nil {
		return Policy{}, err
	}
	return p, p.Validate()
}

// A11yBusPolicy is the policy Flatpak gives an app on the accessibility bus.
func A11yBusPolicy() Policy {
	p := Policy{Filter: true, SloppyNames: true}
	const reg = "org.a11y.atspi.Registry"
	for _, r := range []string{
		"org.a11y.atspi.Socket.Embed@/org/a11y/atspi/accessible/root",
		"org.a11y.atspi.Socket.Unembed@/org/a11y/atspi/accessible/root",
		"org.a11y.atspi.Registry.GetRegisteredEvents@/org/a11y/atspi/registry",
		"org.a11y.atspi.DeviceEventController.GetKeystrokeListeners@/org/a11y/atspi/registry/deviceeventcontroller",
		"org.a11y.atspi.DeviceEventController.GetDeviceEventListeners@/org/a11y/atspi/registry/deviceeventcontroller",
		"org.a11y.atspi.DeviceEventController.NotifyListenersSync@/org/a11y/atspi/registry/deviceeventcontroller",
		"org.a11y.atspi.DeviceEventController.NotifyListenersAsync@/org/a11y/atspi/registry/deviceeventcontroller",
	} {
		p.AddCall(reg, r)
	}
	return p
}

func (p *Policy) addEntries(entries map[string]string) error {
	for _, n := range slices.Sorted(maps.Keys(entries)) {
		l, err := ParseLevel(entries[n])
		if err != nil {
			return fmt.Errorf("%s: %w", n, err)
		}
		if l > LevelNone {
			p.SetLevel(n, l)
		}
	}
	return nil
}

// filter kinds.
const (
	kindCall      = 1 << 0
	kindBroadcast = 1 << 1
	kindAll       = kindCall | kindBroadcast
)

// filter is one compiled policy entry for a name.
type filter struct {
	subtree     bool // the entry was NAME.*
	level       Level
	kinds       int
	path        string // "" matches any path
	pathSubtree bool
	iface       string // "" matches any interface
	member      string // "" matches any member
}

// matchAll are the filters unique names get from the client's own
// tracking (TALK for itself, SEE for peers that wrote to it).
var matchAll = [...]*filter{
	LevelSee:  {level: LevelSee, kinds: kindAll},
	LevelTalk: {level: LevelTalk, kinds: kindAll},
	LevelOwn:  {level: LevelOwn, kinds: kindAll},
}

// parseRule compiles a rule [*|IFACE.*|IFACE.METHOD][@/path[/*]].
func parseRule(rule string, kinds int) *filter {
	f := &filter{level: LevelTalk, kinds: kinds}
	method := rule
	if at := strings.IndexByte(rule, '@'); at >= 0 {
		method = rule[:at]
		if p := rule[at+1:]; p != "" {
			f.path = p
			if strings.HasSuffix(p, "/*") {
				f.path, f.pathSubtree = p[:len(p)-2], true
			}
		}
	}
	if method != "" && method[0] != '*' {
		f.iface = method
		if dot := strings.LastIndexByte(method, '.'); dot >= 0 {
			f.iface = method[:dot]
			if m := method[dot+1:]; m != "*" {
				f.member = m
			}
		}
	}
	return f
}

func (f *filter) matches(kind int, path, iface, member string) bool {
	if f.level < LevelTalk || f.kinds&kind == 0 {
		return false
	}
	if f.path != "" {
		if f.pathSubtree {
			if !strings.HasPrefix(path, f.path) || (len(path) > len(f.path) && path[len(f.path)] != '/') {
				return false
			}
		} else if path != f.path {
			return false
		}
	}
	if f.iface != "" && f.iface != iface {
		return false
	}
	if f.member != "" && f.member != member {
		return false
	}
	return true
}

func anyMatches(fs []*filter, kind int, h *header) bool {
	for _, f := range fs {
		if f.matches(kind, h.path, h.iface, h.member) {
			return true
		}
	}
	return false
}

// rules is a compiled Policy: the filters of every name (without .*).
type rules struct {
	filter bool
	sloppy bool
	names  map[string][]*filter

	nameOpsOnce sync.Once
	nameOpsTpl  *nameOpsTemplate
}

func compile(p Policy) (*rules, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	r := &rules{filter: p.Filter, sloppy: p.SloppyNames, names: map[string][]*filter{}}
	add := func(n string, f *filter) {
		base, ok := strings.CutSuffix(n, ".*")
		f.subtree = ok
		r.names[base] = append(r.names[base], f)
	}
	add(busName, &filter{level: LevelTalk, kinds: kindAll})
	for _, n := range slices.Sorted(maps.Keys(p.Names)) {
		if l := p.Names[n]; l > LevelNone {
			add(n, &filter{level: l, kinds: kindAll})
		}
	}
	for _, n := range slices.Sorted(maps.Keys(p.Calls)) {
		for _, rule := range p.Calls[n] {
			add(n, parseRule(rule, kindCall))
		}
	}
	for _, n := range slices.Sorted(maps.Keys(p.Broadcasts)) {
		for _, rule := range p.Broadcasts[n] {
			add(n, parseRule(rule, kindBroadcast))
		}
	}
	return r, nil
}

// wellKnown returns the highest level of the well-known name and appends the
// filters that apply to it to *matched (when matched is not nil): entries
// for the name itself, and subtree entries for each dotted prefix.
func (r *rules) wellKnown(name string, matched *[]*filter) Level {
	max := LevelNone
	exact := true
	for {
		for _, f := range r.names[name] {
			if exact || f.subtree {
				max = maxLevel(max, f.level)
				if matched != nil {
					*matched = append(*matched, f)
				}
			}
		}
		exact = false
		dot := strings.LastIndexByte(name, '.')
		if dot < 0 {
			return max
		}
		name = name[:dot]
	}
}

func maxLevel(a, b Level) Level {
	if a > b {
		return a
	}
	return b
}
