package runspec

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/porthole-dev/porthole/launcher"
)

// fakeDocs is a document portal that numbers the files it is given.
type fakeDocs struct {
	mount string
	got   []string
}

func (f *fakeDocs) MountPoint(context.Context) (string, error) {
	if f.mount == "" {
		return "", ErrNoPortal
	}
	return f.mount, nil
}

func (f *fakeDocs) Forward(_ context.Context, app, p string) (string, error) {
	if _, err := os.Lstat(p); err != nil {
		return "", err
	}
	f.got = append(f.got, p)
	return "d" + string(rune('0'+len(f.got))), nil
}

func TestForwardArgs(t *testing.T) {
	home, rt, run := t.TempDir(), t.TempDir(), t.TempDir()
	os.MkdirAll(filepath.Join(rt, "bin"), 0o755)
	other := t.TempDir()
	hostFile := filepath.Join(other, "a b.txt")
	os.WriteFile(hostFile, nil, 0o644)
	homeFile := filepath.Join(home, "Documents", "in-home.txt")
	os.MkdirAll(filepath.Dir(homeFile), 0o755)
	os.WriteFile(homeFile, nil, 0o644)
	os.Symlink(hostFile, filepath.Join(home, "link.txt"))
	docs := &fakeDocs{mount: filepath.Join(run, "doc")}
	in := Input{
		AppID: "org.test.App", Arch: "x86_64", Branch: "stable", AppFiles: t.TempDir(),
		RuntimeRef: "runtime/org.test.Platform/x86_64/1", RuntimeFiles: rt, MetadataCommand: "app-cmd",
		Context: ctxOf(t, "--filesystem=home"), Documents: docs, FileForwarding: true,
		Args: []string{"x", "@@", hostFile, homeFile, filepath.Join(home, "link.txt"), filepath.Join(home, "new.txt"), "@@",
			hostFile, "@@u", "file://" + escapeFilePath(hostFile), "relative", "@@"},
	}
	host := Host{UID: 1000, GID: 1000, User: "u", Group: "g", Home: home, RuntimeDir: run, Env: []string{"HOME=" + home}}
	res, err := Build(context.Background(), in, host)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"app-cmd", "x", "/run/user/1000/doc/d1/a b.txt", homeFile,
		"/run/user/1000/doc/d2/link.txt", filepath.Join(home, "new.txt"),
		hostFile, "file:///run/user/1000/doc/d3/a%20b.txt", "relative"}
	if diff := cmp.Diff(want, res.Spec.Args); diff != "" {
		t.Errorf("args (-want +got):\n%s", diff)
	}
	if !hasMount(res.Spec, launcher.Bind, filepath.Join(run, "doc", "by-app", "org.test.App"), "/run/flatpak/doc") {
		t.Error("no document portal mount")
	}

	// Without a portal (or under --sandbox): markers dropped, paths kept.
	in.Documents, in.Args = &fakeDocs{}, []string{"@@", hostFile, "@@"}
	res, err = Build(context.Background(), in, host)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{hostFile}, res.Spec.Args[1:]); diff != "" || len(res.Notices) != 1 {
		t.Errorf("args without a portal (-want +got):\n%s\nnotices %q", diff, res.Notices)
	}
	if hasMount(res.Spec, launcher.Bind, "", "/run/flatpak/doc") {
		t.Error("document mount without a portal")
	}

	// A missing file that is not visible fails the run.
	in.Documents, in.Args = docs, []string{"@@", filepath.Join(other, "missing"), "@@"}
	if _, err := Build(context.Background(), in, host); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("forwarding a missing file: %v", err)
	}
}

func TestFileURIPath(t *testing.T) {
	for in, want := range map[string]string{
		"file:///a/b%20c":         "/a/b c",
		"file:/a/b":               "/a/b",
		"file://localhost/a/../b": "/b",
		"file://a":                "",
		"file:///a%2Fb":           "",
		"file:///a%00":            "",
		"file:///a%2":             "",
		"file:relative":           "",
		"file:///a?q":             "",
	} {
		got, err := fileURIPath(in)
		if (err != nil) != (want == "") || got != want {
			t.Errorf("fileURIPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if got := escapeFilePath("/a b/%é;!~"); got != "/a%20b/%25%C3%A9%3B!~" {
		t.Errorf("escapeFilePath = %q", got)
	}
}

func FuzzFileURIPath(f *testing.F) {
	for _, s := range []string{"file:///a/b%20c", "file:/x", "file://host/y", "file:///%2F", "file:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := fileURIPath(s)
		if err != nil {
			return
		}
		if !filepath.IsAbs(p) || filepath.Clean(p) != p {
			t.Fatalf("fileURIPath(%q) = %q: not a clean absolute path", s, p)
		}
		// The escaped form reads back to the same path.
		if q, err := fileURIPath("file://" + escapeFilePath(p)); err != nil || q != p {
			t.Fatalf("round trip of %q: %q, %v", p, q, err)
		}
	})
}

func TestScopeName(t *testing.T) {
	if got, want := ScopeName("org.x-y.App_1", 42), `app-flatpak-org.x\x2dy.App_1-42.scope`; got != want {
		t.Errorf("ScopeName = %q, want %q", got, want)
	}
}
