package runspec

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/porthole-dev/porthole/launcher"
)

// TestExtensionsNoLdCache: without a generated ld.so.cache the
// extensions' library directories go to LD_LIBRARY_PATH (the app's
// before /app/lib, the runtime's after); subdirectory extensions get one
// tmpfs on their parent; merge-dirs links go to the first extension by
// priority; /.flatpak-info lists ID=COMMIT ("local" when unmaintained).
func TestExtensionsNoLdCache(t *testing.T) {
	home, rt := t.TempDir(), t.TempDir()
	hi, lo := t.TempDir(), t.TempDir()
	for _, d := range []string{hi, lo} {
		os.MkdirAll(filepath.Join(d, "icd"), 0o755)
		os.WriteFile(filepath.Join(d, "icd", "same.json"), nil, 0o644)
	}
	os.WriteFile(filepath.Join(lo, "icd", "lo.json"), nil, 0o644)
	in := Input{
		AppID: "org.test.App", Arch: "x86_64", Branch: "stable", AppFiles: t.TempDir(), AppCommit: "c1",
		RuntimeRef: "runtime/org.test.Platform/x86_64/1", RuntimeFiles: rt, RuntimeCommit: "c2",
		AppExtensions: []Extension{{ID: "org.test.App.Plugin", Commit: "p1", Files: t.TempDir(), Dir: "plugins", AddLdPath: "lib"}},
		RuntimeExtensions: []Extension{
			{ID: "org.test.GL.hi", Commit: "h1", Files: hi, Dir: "lib/GL/hi", AddLdPath: "lib", MergeDirs: []string{"icd"}, NeedsTmpfs: true},
			{ID: "org.test.GL.lo", Files: lo, Dir: "lib/GL/lo", AddLdPath: "lib", MergeDirs: []string{"icd"}, NeedsTmpfs: true},
		},
	}
	res, err := Build(context.Background(), in, Host{UID: 1000, GID: 1000, User: "u", Group: "g", Home: home, RuntimeDir: t.TempDir(), Env: []string{"HOME=" + home}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := envOf(res.Spec)["LD_LIBRARY_PATH"], "/app/plugins/lib:/app/lib:/usr/lib/GL/hi/lib:/usr/lib/GL/lo/lib"; got != want {
		t.Errorf("LD_LIBRARY_PATH = %q, want %q", got, want)
	}
	tmpfs := 0
	for _, m := range res.Spec.Mounts {
		if m.Type == launcher.Tmpfs && m.Dest == "/usr/lib/GL" {
			tmpfs++
		}
	}
	if tmpfs != 1 {
		t.Errorf("%d tmpfs on /usr/lib/GL, want 1", tmpfs)
	}
	for _, c := range []struct{ src, dest string }{
		{"/usr/lib/GL/hi/icd/same.json", "/usr/lib/GL/icd/same.json"},
		{"/usr/lib/GL/lo/icd/lo.json", "/usr/lib/GL/icd/lo.json"},
	} {
		if !hasMount(res.Spec, launcher.Symlink, c.src, c.dest) {
			t.Errorf("no link %s -> %s", c.dest, c.src)
		}
	}
	if hasMount(res.Spec, launcher.Symlink, "/usr/lib/GL/lo/icd/same.json", "/usr/lib/GL/icd/same.json") {
		t.Error("the lower-priority extension's link was added too")
	}
	if !hasMount(res.Spec, launcher.ROBind, hi, "/usr/lib/GL/hi") || !hasMount(res.Spec, launcher.ROBind, "", "/app/plugins") {
		t.Error("extension binds missing")
	}
	if res.Info.AppExtensions != "org.test.App.Plugin=p1" || res.Info.RuntimeExtensions != "org.test.GL.hi=h1;org.test.GL.lo=local" {
		t.Errorf("info extensions: app %q, runtime %q", res.Info.AppExtensions, res.Info.RuntimeExtensions)
	}
}
