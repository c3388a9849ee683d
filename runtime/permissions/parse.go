package permissions

import (
	"errors"
	"fmt"
	"strings"
)

func parseNegated(s string) (string, bool) {
	if strings.HasPrefix(s, "!") {
		return s[1:], true
	}
	return s, false
}

// LoadMetadata merges the permission groups of a metadata or override key
// file into c (flatpak_context_load_metadata). Unknown values are skipped;
// malformed characters and invalid bus names are errors.
func (c *Context) LoadMetadata(kf *KeyFile) error {
	bits := []struct {
		key   string
		names []string
		b     *Bits
	}{
		{KeyShared, ShareNames, &c.Shares},
		{KeySockets, SocketNames, &c.Sockets},
		{KeyDevices, DeviceNames, &c.Devices},
		{KeyFeatures, FeatureNames, &c.Features},
	}
	for _, e := range bits {
		list, ok := kf.StringList(GroupContext, e.key)
		if !ok {
			continue
		}
		for _, v := range list {
			name, neg := parseNegated(v)
			m := bitFor(e.names, name)
			if m == 0 {
				continue
			}
			if neg {
				e.b.remove(m)
			} else {
				e.b.add(m)
			}
		}
	}
	if list, ok := kf.StringList(GroupContext, KeyFilesystems); ok {
		for _, v := range list {
			name, neg := parseNegated(v)
			fs, mode, err := ParseFilesystem(name, neg)
			if err != nil {
				if errors.Is(err, ErrInvalid) {
					return err
				}
				continue
			}
			c.takeFilesystem(fs, mode)
		}
	}
	if list, ok := kf.StringList(GroupContext, KeyPersistent); ok {
		for _, v := range list {
			if err := ValidatePathCharacters(v); err != nil {
				return err
			}
			c.Persistent.Set(v, struct{}{})
		}
	}
	for _, g := range []struct {
		group string
		t     *Table[Policy]
	}{{GroupSessionBusPolicy, c.SessionBus}, {GroupSystemBusPolicy, c.SystemBus}} {
		for _, k := range kf.Keys(g.group) {
			if err := ValidateBusName(k); err != nil {
				return err
			}
			v, _ := kf.String(g.group, k)
			if p, err := ParsePolicy(v); err == nil {
				g.t.Set(k, p)
			}
		}
	}
	for _, k := range kf.Keys(GroupEnvironment) {
		v, _ := kf.String(GroupEnvironment, k)
		c.Env.Set(k, &v)
	}
	if list, ok := kf.StringList(GroupContext, KeyUnsetEnvironment); ok {
		for _, v := range list {
			c.Env.Set(v, nil)
		}
	}
	for _, g := range kf.Groups() {
		sub, ok := strings.CutPrefix(g, GroupPolicyPrefix)
		if !ok {
			continue
		}
		for _, k := range kf.Keys(g) {
			vals, _ := kf.StringList(g, k)
			for _, v := range vals {
				c.applyGeneric(sub+"."+k, v)
			}
		}
	}
	return nil
}

// ParseMetadata parses key-file bytes into a new Context.
func ParseMetadata(data []byte) (*Context, error) {
	kf, err := ParseKeyFile(data)
	if err != nil {
		return nil, err
	}
	c := New()
	if err := c.LoadMetadata(kf); err != nil {
		return nil, err
	}
	return c, nil
}

// Options lists the command-line options ApplyOption accepts, each
// taking a value.
var Options = []string{
	"share", "unshare", "socket", "nosocket", "device", "nodevice", "allow", "disallow",
	"filesystem", "nofilesystem", "env", "unset-env", "own-name", "talk-name",
	"no-talk-name", "system-own-name", "system-talk-name", "system-no-talk-name",
	"add-policy", "remove-policy", "persist",
}

// ApplyOption applies one command-line option (name without "--") to c.
// Unlike LoadMetadata, unknown values are errors.
func (c *Context) ApplyOption(name, value string) error {
	bitOpt := func(names []string, kind string, b *Bits, add bool, extra func(uint32) uint32) error {
		m := bitFor(names, value)
		if m == 0 {
			return fmt.Errorf("%w: %s type %s, valid types are: %s", ErrUnknown, kind, value, strings.Join(names, ", "))
		}
		if extra != nil {
			m = extra(m)
		}
		if add {
			b.add(m)
		} else {
			b.remove(m)
		}
		return nil
	}
	fallback := func(m uint32) uint32 {
		if m == bitFor(SocketNames, "fallback-x11") {
			m |= bitFor(SocketNames, "x11")
		}
		return m
	}
	switch name {
	case "share", "unshare":
		return bitOpt(ShareNames, "share", &c.Shares, name == "share", nil)
	case "socket", "nosocket":
		return bitOpt(SocketNames, "socket", &c.Sockets, name == "socket", fallback)
	case "device", "nodevice":
		return bitOpt(DeviceNames, "device", &c.Devices, name == "device", nil)
	case "allow", "disallow":
		return bitOpt(FeatureNames, "feature", &c.Features, name == "allow", nil)
	case "filesystem", "nofilesystem":
		fs, mode, err := ParseFilesystem(value, name == "nofilesystem")
		if err != nil {
			return err
		}
		c.takeFilesystem(fs, mode)
	case "env":
		k, v, ok := strings.Cut(value, "=")
		if !ok || k == "" {
			return fmt.Errorf("%w: env format %s", ErrBadValue, value)
		}
		c.Env.Set(k, &v)
	case "unset-env":
		if strings.Contains(value, "=") {
			return fmt.Errorf("%w: environment variable name must not contain '=': %s", ErrBadValue, value)
		}
		c.Env.Set(value, nil)
	case "own-name", "talk-name", "no-talk-name", "system-own-name", "system-talk-name", "system-no-talk-name":
		if err := ValidateBusName(value); err != nil {
			return err
		}
		t := c.SessionBus
		base := name
		if s, ok := strings.CutPrefix(name, "system-"); ok {
			t, base = c.SystemBus, s
		}
		p := map[string]Policy{"own-name": PolicyOwn, "talk-name": PolicyTalk, "no-talk-name": PolicyNone}[base]
		t.Set(value, p)
	case "add-policy", "remove-policy":
		key, v, ok := strings.Cut(value, "=")
		if !ok || !strings.Contains(key, ".") {
			return fmt.Errorf("%w: --%s arguments must be in the form SUBSYSTEM.KEY=VALUE", ErrBadValue, name)
		}
		if strings.HasPrefix(v, "!") {
			return fmt.Errorf("%w: --%s values can't start with \"!\"", ErrBadValue, name)
		}
		if name == "remove-policy" {
			v = "!" + v
		}
		c.applyGeneric(key, v)
	case "persist":
		if err := ValidatePathCharacters(value); err != nil {
			return err
		}
		c.Persistent.Set(value, struct{}{})
	default:
		return fmt.Errorf("%w: option --%s", ErrUnknown, name)
	}
	return nil
}

// ParseEnvBlock applies a NUL-separated VAR=VALUE block (--env-fd).
func (c *Context) ParseEnvBlock(data []byte) error {
	for _, e := range strings.Split(strings.TrimSuffix(string(data), "\x00"), "\x00") {
		if e == "" && len(data) == 0 {
			break
		}
		k, v, ok := strings.Cut(e, "=")
		if !ok || k == "" {
			return fmt.Errorf("%w: environment variable must be given in the form VARIABLE=VALUE, not %s", ErrBadValue, e)
		}
		c.Env.Set(k, &v)
	}
	return nil
}
