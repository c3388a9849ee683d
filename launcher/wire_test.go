package launcher

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/porthole-dev/porthole/launcher/dbusproxy"
)

func sampleConfig() *initConfig {
	s := hostSpec(4242, 4242, "sh", "-c", "echo hi")
	s.Cwd = "/home/test"
	s.ShareNet = true
	s.InstanceDir = "/run/user/4242/.flatpak/123"
	s.DieWithParent = true
	s.Seccomp = Seccomp{Devel: true, Multiarch: true, Canbus: true, Arch: "x86_64"}
	s.Mounts = append(s.Mounts, Mount{Type: Bind, Source: "/home/u/.var/app/x", Dest: "/home/u/.var/app/x", Optional: true},
		Mount{Type: Tmpfs, Dest: "/tmp/.X11-unix", Mode: 0o1777})
	s.BusProxies = []BusProxy{{Dest: "/run/flatpak/bus", Socket: "/run/user/4242/bus", Policy: dbusproxy.Policy{}}}
	return &initConfig{Spec: *s, Seccomp: []byte{1, 2, 3, 4, 5, 6, 7, 8}, NExtra: 2, Trace: true}
}

func TestConfigRoundTrip(t *testing.T) {
	for _, cfg := range []*initConfig{sampleConfig(), {Spec: Spec{Args: []string{"true"}}}} {
		data, err := marshalConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		got, err := unmarshalConfig(data)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(cfg, got); d != "" {
			t.Errorf("round trip (-want +got):\n%s", d)
		}
		for i := range data {
			if _, err := unmarshalConfig(data[:i]); err == nil {
				t.Errorf("truncated to %d bytes: no error", i)
			}
		}
	}
}

func FuzzUnmarshalConfig(f *testing.F) {
	data, err := marshalConfig(sampleConfig())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte{wireVersion})
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := unmarshalConfig(data)
		if err != nil {
			return
		}
		again, err := marshalConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		cfg2, err := unmarshalConfig(again)
		if err != nil {
			t.Fatalf("re-encoded config does not decode: %v", err)
		}
		if d := cmp.Diff(cfg, cfg2); d != "" {
			t.Errorf("re-encoding changed the config:\n%s", d)
		}
	})
}
