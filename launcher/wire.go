package launcher

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
)

// The init stage's configuration travels on a pipe in a small binary
// form rather than JSON: decoding JSON by reflection took about half a
// millisecond of the init stage's start for a Spec of a hundred mounts.
// Strings and byte slices are a uvarint length and the bytes; integers
// are uvarints; bools one byte. Bus proxies, rare and nested, ride as
// one embedded JSON value.

// wireVersion is the first byte of an encoded initConfig.
const wireVersion = 1

// errWire reports a malformed encoded configuration.
var errWire = errors.New("malformed sandbox configuration")

type wireEnc struct{ b []byte }

func (e *wireEnc) uint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *wireEnc) bytes(v []byte) {
	e.uint(uint64(len(v)))
	e.b = append(e.b, v...)
}
func (e *wireEnc) str(v string) {
	e.uint(uint64(len(v)))
	e.b = append(e.b, v...)
}
func (e *wireEnc) strs(v []string) {
	e.uint(uint64(len(v)))
	for _, s := range v {
		e.str(s)
	}
}
func (e *wireEnc) bool(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}

type wireDec struct {
	b   []byte
	err error
}

func (d *wireDec) fail() {
	if d.err == nil {
		d.err = errWire
	}
	d.b = nil
}

func (d *wireDec) uint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *wireDec) int() int {
	v := d.uint()
	if v > 1<<31 {
		d.fail()
		return 0
	}
	return int(v)
}

func (d *wireDec) raw() []byte {
	n := d.uint()
	if n > uint64(len(d.b)) {
		d.fail()
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *wireDec) bytes() []byte {
	v := d.raw()
	if len(v) == 0 {
		return nil
	}
	return append([]byte(nil), v...)
}

func (d *wireDec) str() string { return string(d.raw()) }

// count reads a slice length, bounded by what is left to read (each
// element takes at least one byte).
func (d *wireDec) count() int {
	n := d.uint()
	if n > uint64(len(d.b)) {
		d.fail()
		return 0
	}
	return int(n)
}

func (d *wireDec) strs() []string {
	n := d.count()
	if n == 0 {
		return nil
	}
	v := make([]string, n)
	for i := range v {
		v[i] = d.str()
	}
	return v
}

func (d *wireDec) bool() bool {
	if len(d.b) == 0 {
		d.fail()
		return false
	}
	v := d.b[0]
	d.b = d.b[1:]
	if v > 1 {
		d.fail()
	}
	return v == 1
}

// marshalConfig encodes cfg for the init stage.
func marshalConfig(cfg *initConfig) ([]byte, error) {
	s := &cfg.Spec
	e := &wireEnc{b: make([]byte, 0, 4096+len(cfg.Seccomp))}
	e.b = append(e.b, wireVersion)
	e.strs(s.Args)
	e.strs(s.Env)
	e.str(s.Cwd)
	e.uint(uint64(s.UID))
	e.uint(uint64(s.GID))
	e.bool(s.ShareNet)
	e.bool(s.ShareIPC)
	e.uint(uint64(len(s.Mounts)))
	for _, m := range s.Mounts {
		e.str(string(m.Type))
		e.str(m.Source)
		e.str(m.Dest)
		e.bytes(m.Data)
		e.uint(uint64(m.Mode))
		e.bool(m.ReadOnly)
		e.bool(m.Optional)
	}
	sc := s.Seccomp
	for _, b := range []bool{sc.Disabled, sc.Devel, sc.Multiarch, sc.Bluetooth, sc.Canbus} {
		e.bool(b)
	}
	e.str(sc.Arch)
	e.str(s.InstanceDir)
	var bus []byte
	if len(s.BusProxies) > 0 {
		var err error
		if bus, err = json.Marshal(s.BusProxies); err != nil {
			return nil, fmt.Errorf("encoding the bus proxies: %w", err)
		}
	}
	e.bytes(bus)
	e.bool(s.DieWithParent)
	e.bytes(cfg.Seccomp)
	e.uint(uint64(cfg.NExtra))
	e.bool(cfg.Trace)
	return e.b, nil
}

// unmarshalConfig decodes what marshalConfig encoded.
func unmarshalConfig(data []byte) (*initConfig, error) {
	if len(data) == 0 || data[0] != wireVersion {
		return nil, errWire
	}
	d := &wireDec{b: data[1:]}
	cfg := &initConfig{}
	s := &cfg.Spec
	s.Args = d.strs()
	s.Env = d.strs()
	s.Cwd = d.str()
	s.UID = d.int()
	s.GID = d.int()
	s.ShareNet = d.bool()
	s.ShareIPC = d.bool()
	if n := d.count(); n > 0 {
		s.Mounts = make([]Mount, n)
		for i := range s.Mounts {
			m := &s.Mounts[i]
			m.Type = MountType(d.str())
			m.Source = d.str()
			m.Dest = d.str()
			m.Data = d.bytes()
			mode := d.uint()
			if mode > 0o7777 {
				d.fail()
			}
			m.Mode = uint32(mode)
			m.ReadOnly = d.bool()
			m.Optional = d.bool()
		}
	}
	sc := &s.Seccomp
	for _, b := range []*bool{&sc.Disabled, &sc.Devel, &sc.Multiarch, &sc.Bluetooth, &sc.Canbus} {
		*b = d.bool()
	}
	sc.Arch = d.str()
	s.InstanceDir = d.str()
	if bus := d.raw(); len(bus) > 0 && d.err == nil {
		if err := json.Unmarshal(bus, &s.BusProxies); err != nil {
			return nil, fmt.Errorf("%w: bus proxies: %v", errWire, err)
		}
	}
	s.DieWithParent = d.bool()
	cfg.Seccomp = d.bytes()
	cfg.NExtra = d.int()
	cfg.Trace = d.bool()
	if d.err == nil && len(d.b) != 0 {
		d.fail()
	}
	if d.err != nil {
		return nil, d.err
	}
	return cfg, nil
}
