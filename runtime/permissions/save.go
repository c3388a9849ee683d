package permissions

import (
	"fmt"
	"strings"
)

// Save writes c's groups into kf as flatpak_context_save_metadata does:
// list keys of [Context] are set or removed in place, the bus policy,
// environment and [Policy …] groups are removed and re-added at the end.
// With flatten, negations are dropped (the form of /.flatpak-info).
func (c *Context) Save(kf *KeyFile, flatten bool) {
	bits := []struct {
		key   string
		names []string
		b     Bits
	}{
		{KeyShared, ShareNames, c.Shares},
		{KeySockets, SocketNames, c.Sockets},
		{KeyDevices, DeviceNames, c.Devices},
		{KeyFeatures, FeatureNames, c.Features},
	}
	for _, e := range bits {
		b := e.b
		if flatten {
			b.Value &= b.Valid
			b.Valid = b.Value
		}
		if l := bitsStrings(b, e.names); len(l) > 0 {
			kf.SetStringList(GroupContext, e.key, l)
		} else {
			kf.RemoveKey(GroupContext, e.key)
		}
	}

	if c.Filesystems.Len() > 0 {
		var l []string
		if _, ok := c.Filesystems.Get(filesystemHostReset); ok && !flatten {
			l = append(l, filesystemHostResetArg)
		}
		c.Filesystems.Range(func(fs string, m Mode) {
			if fs == filesystemHostReset || (flatten && m == ModeNone) {
				return
			}
			l = append(l, UnparseFilesystem(fs, m))
		})
		kf.SetStringList(GroupContext, KeyFilesystems, l)
	} else {
		kf.RemoveKey(GroupContext, KeyFilesystems)
	}

	if c.Persistent.Len() > 0 {
		kf.SetStringList(GroupContext, KeyPersistent, c.Persistent.Keys())
	} else {
		kf.RemoveKey(GroupContext, KeyPersistent)
	}

	for _, g := range []struct {
		group string
		t     *Table[Policy]
	}{{GroupSessionBusPolicy, c.SessionBus}, {GroupSystemBusPolicy, c.SystemBus}} {
		kf.RemoveGroup(g.group)
		g.t.Range(func(name string, p Policy) {
			if flatten && p == PolicyNone {
				return
			}
			kf.SetString(g.group, name, p.String())
		})
	}

	kf.RemoveGroup(GroupEnvironment)
	var unset []string
	c.Env.Range(func(k string, v *string) {
		if v != nil {
			kf.SetString(GroupEnvironment, k, *v)
			return
		}
		kf.SetString(GroupEnvironment, k, "")
		unset = append(unset, k)
	})
	if len(unset) > 0 {
		kf.SetStringList(GroupContext, KeyUnsetEnvironment, unset)
	} else {
		kf.RemoveKey(GroupContext, KeyUnsetEnvironment)
	}

	for _, g := range kf.Groups() {
		if strings.HasPrefix(g, GroupPolicyPrefix) {
			kf.RemoveGroup(g)
		}
	}
	c.Generic.Range(func(key string, vals []string) {
		sub, k, _ := strings.Cut(key, ".")
		var l []string
		for _, v := range vals {
			if !flatten || !strings.HasPrefix(v, "!") {
				l = append(l, v)
			}
		}
		if len(l) > 0 {
			kf.SetStringList(GroupPolicyPrefix+sub, k, l)
		}
	})
}

// Bytes returns c saved into a fresh key file.
func (c *Context) Bytes(flatten bool) []byte {
	kf := &KeyFile{}
	c.Save(kf, flatten)
	return kf.Bytes()
}

// Args renders c as command-line options (flatpak_context_to_args), the
// form of the extra-args key of /.flatpak-info.
func (c *Context) Args() []string {
	var args []string
	bitArgs := func(b Bits, names []string, on, off string) {
		for i, n := range names {
			m := uint32(1) << i
			if b.Valid&m == 0 {
				continue
			}
			if b.Value&m != 0 {
				args = append(args, fmt.Sprintf("--%s=%s", on, n))
			} else {
				args = append(args, fmt.Sprintf("--%s=%s", off, n))
			}
		}
	}
	bitArgs(c.Shares, ShareNames, "share", "unshare")
	bitArgs(c.Sockets, SocketNames, "socket", "nosocket")
	bitArgs(c.Devices, DeviceNames, "device", "nodevice")
	bitArgs(c.Features, FeatureNames, "allow", "disallow")
	c.Env.Range(func(k string, v *string) {
		if v != nil {
			args = append(args, "--env="+k+"="+*v)
		} else {
			args = append(args, "--unset-env="+k)
		}
	})
	c.Persistent.Range(func(k string, _ struct{}) { args = append(args, "--persist="+k) })
	c.SessionBus.Range(func(k string, p Policy) { args = append(args, fmt.Sprintf("--%s-name=%s", p, k)) })
	c.SystemBus.Range(func(k string, p Policy) { args = append(args, fmt.Sprintf("--system-%s-name=%s", p, k)) })
	if _, ok := c.Filesystems.Get(filesystemHostReset); ok {
		args = append(args, "--nofilesystem=host:reset")
	}
	c.Filesystems.Range(func(fs string, m Mode) {
		if fs == filesystemHostReset {
			return
		}
		u := UnparseFilesystem(fs, m)
		if m != ModeNone {
			args = append(args, "--filesystem="+u)
		} else {
			args = append(args, "--nofilesystem="+u[1:])
		}
	})
	return args
}
