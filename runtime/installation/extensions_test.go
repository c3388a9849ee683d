package installation

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/porthole-dev/porthole/runtime/metadata"
	"github.com/porthole-dev/porthole/runtime/ref"
)

// deployFake lays out an active deployment of kind/id/arch/branch.
func deployFake(t *testing.T, inst string, kind ref.Kind, id, branch, commit, meta string) {
	t.Helper()
	d := filepath.Join(inst, string(kind), id, "x86_64", branch)
	if err := os.MkdirAll(filepath.Join(d, commit, "files"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(d, commit, "metadata"), []byte(meta), 0o644)
	os.Symlink(commit, filepath.Join(d, "active"))
}

func TestListExtensions(t *testing.T) {
	user, sys := t.TempDir(), t.TempDir()
	deployFake(t, sys, ref.Runtime, "org.x.Codecs", "1", "c-sys", "[Runtime]\nname=org.x.Codecs\n")
	deployFake(t, user, ref.Runtime, "org.x.Codecs", "1", "c-user", "[Runtime]\nname=org.x.Codecs\n")
	deployFake(t, sys, ref.Runtime, "org.x.GL.b", "2", "gb", "[Runtime]\nname=org.x.GL.b\n[ExtensionOf]\npriority=3\n")
	deployFake(t, user, ref.Runtime, "org.x.GL.a", "2", "ga", "[Runtime]\nname=org.x.GL.a\n")
	deployFake(t, user, ref.Runtime, "org.x.GL.off", "2", "go", "[Runtime]\nname=org.x.GL.off\n")
	os.MkdirAll(filepath.Join(sys, "extension", "org.x.Theme", "x86_64", "1"), 0o755)
	md, err := metadata.Parse([]byte("[Runtime]\nname=org.x.Platform\n\n" +
		"[Extension org.x.Codecs]\ndirectory=lib/codecs\nadd-ld-path=lib\n\n" +
		"[Extension org.x.GL]\ndirectory=lib/GL\nsubdirectories=true\nversions=2;3\nmerge-dirs=icd;egl\nenable-if=active-gl-driver\n\n" +
		"[Extension org.x.Theme@tag]\ndirectory=share/themes\n\n" +
		"[Extension org.x.Missing]\ndirectory=missing\n\n[Extension org.x.NoDir]\n"))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("FLATPAK_GL_DRIVERS", "a:b")
	got := ListExtensions([]string{user, sys}, md, "x86_64", "1")
	var ids []string
	for _, e := range got {
		ids = append(ids, e.InstalledID+"@"+e.Directory+"="+e.Commit)
	}
	want := []string{
		"org.x.Theme@share/themes=", // unmaintained: priority 1000
		"org.x.GL.b@lib/GL/b=gb",    // priority 3
		"org.x.Codecs@lib/codecs=c-user",
		"org.x.GL.a@lib/GL/a=ga",
	}
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("extensions (-want +got):\n%s", diff)
	}
	for _, e := range got {
		if e.InstalledID == "org.x.GL.a" && (!e.NeedsTmpfs || !cmp.Equal(e.MergeDirs, []string{"icd", "egl"}) || e.Ref.Branch != "2") {
			t.Errorf("GL.a = %+v", e)
		}
		if e.InstalledID == "org.x.Codecs" && (e.AddLdPath != "lib" || e.NeedsTmpfs || e.Files != filepath.Join(user, "runtime/org.x.Codecs/x86_64/1/c-user/files")) {
			t.Errorf("Codecs = %+v", e)
		}
	}
}

func TestFindDeployed(t *testing.T) {
	user, sys := t.TempDir(), t.TempDir()
	deployFake(t, sys, ref.App, "org.x.App", "stable", "c1", "")
	deployFake(t, sys, ref.App, "org.x.App", "stable", "c0", "")
	d, err := FindDeployed([]string{user, sys}, ref.App, "org.x.App", "x86_64", "", "")
	if err != nil || d.Commit != "c1" || d.Installation != sys || d.Ref.Branch != "stable" {
		t.Fatalf("FindDeployed = %+v, %v", d, err)
	}
	if d, err := FindDeployed([]string{user, sys}, ref.App, "org.x.App", "x86_64", "stable", "c0"); err != nil || d.Commit != "c0" {
		t.Errorf("FindDeployed commit c0 = %+v, %v", d, err)
	}
	if _, err := FindDeployed([]string{user, sys}, ref.App, "org.x.App", "x86_64", "stable", "nope"); err == nil {
		t.Error("FindDeployed of an undeployed commit succeeded")
	}
	if _, err := FindDeployed([]string{user, sys}, ref.Runtime, "org.x.App", "x86_64", "", ""); err == nil {
		t.Error("FindDeployed of a missing runtime succeeded")
	}
}
