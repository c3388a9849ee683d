package appinfo

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// sample returns the real /.flatpak-info from the spec directory.
func sample(t testing.TB) []byte {
	data, err := os.ReadFile("testdata/flatpak-info.sample")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestRoundTripSample(t *testing.T) {
	want := sample(t)
	info, kf, err := Parse(want)
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != "org.test.Hello" || info.Runtime != "runtime/org.test.Platform/x86_64/master" || !info.SessionBusProxy || info.Devel {
		t.Errorf("Parse = %+v", info)
	}
	if got, _ := kf.StringList("Context", "filesystems"); !cmp.Equal(got, []string{"xdg-download", "~/testdir:create", "/home/user/bench"}) {
		t.Errorf("filesystems = %q", got)
	}
	// Re-render with the context groups copied verbatim.
	ctx := want[strings.Index(string(want), "[Context]"):]
	info.Context = ctx
	if diff := cmp.Diff(string(want), string(info.Bytes())); diff != "" {
		t.Errorf("Bytes() differs from flatpak's (-flatpak +ours):\n%s", diff)
	}
}

func TestRuntimeGroup(t *testing.T) {
	i := &Info{IsRuntime: true, Name: "org.test.Platform", Runtime: "runtime/org.test.Platform/x86_64/master", InstanceID: "1", RuntimePath: "/r", Arch: "x86_64", FlatpakVersion: "1.14.10", Devel: true}
	got, _, err := Parse(i.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(i, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(sample(f))
	f.Add([]byte("[Runtime]\nname=a\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		i, _, err := Parse(data)
		if err != nil {
			return
		}
		i.Context = nil
		j, _, err := Parse(i.Bytes())
		if err != nil {
			t.Fatalf("re-parse: %v\n%s", err, i.Bytes())
		}
		if diff := cmp.Diff(i, j); diff != "" {
			t.Fatalf("unstable (-first +second):\n%s", diff)
		}
	})
}
