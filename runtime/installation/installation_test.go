package installation

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/porthole-dev/porthole/runtime/publish"
	"github.com/porthole-dev/porthole/runtime/ref"
	"golang.org/x/sys/unix"
)

func write(t *testing.T, path, data string, mode os.FileMode) {
	t.Helper()
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
}

// publishTo exports a runtime and an app printing msg into repo.
func publishTo(t *testing.T, repo, dir, msg string) {
	t.Helper()
	ctx := context.Background()
	rt := filepath.Join(dir, "rt")
	if _, err := os.Stat(rt); err != nil {
		write(t, filepath.Join(rt, "metadata"), "[Runtime]\nname=org.test.Platform\n", 0o644)
		write(t, filepath.Join(rt, "usr", "bin", "sh"), "not really a shell\n", 0o755)
		if _, err := publish.Export(ctx, repo, rt, publish.ExportOptions{Runtime: true, Branch: "1", Arch: "x86_64"}); err != nil {
			t.Fatal(err)
		}
	}
	app := filepath.Join(dir, "app")
	os.RemoveAll(app)
	if err := publish.BuildInit(app, "org.test.Hello", "org.test.Platform", "org.test.Platform", "1", publish.InitOptions{Arch: "x86_64"}); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(app, "files", "bin", "hello"), "#!/bin/sh\necho "+msg+"\n", 0o755)
	write(t, filepath.Join(app, "files", "share", "applications", "org.test.Hello.desktop"), "[Desktop Entry]\nName=Hello\nExec=hello --x %U\n", 0o644)
	if err := publish.Finish(app, publish.FinishOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := publish.Export(ctx, repo, app, publish.ExportOptions{Branch: "stable", Arch: "x86_64"}); err != nil {
		t.Fatal(err)
	}
	if err := publish.UpdateRepo(ctx, repo, publish.UpdateOptions{DefaultBranch: "stable", NoAppstream: true}); err != nil {
		t.Fatal(err)
	}
}

// openPublished publishes v1 of the test runtime and app to dir/repo and
// opens an installation at dir/inst, without remotes.
func openPublished(t *testing.T) (inst *Installation, repo, dir string) {
	t.Helper()
	dir = t.TempDir()
	repo = filepath.Join(dir, "repo")
	publishTo(t, repo, dir, "v1")
	inst, err := Open(context.Background(), filepath.Join(dir, "inst"), "user")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Close() })
	return inst, repo, dir
}

func TestInstallUpdateUninstall(t *testing.T) {
	ctx := context.Background()
	inst, repo, dir := openPublished(t)
	if mode, _ := inst.Repo().ConfigValue("core", "mode"); mode != "bare-user-only" {
		t.Errorf("repo mode %q", mode)
	}
	if err := inst.AddRemote(ctx, "r", "file://"+repo, RemoteOptions{NoGPGVerify: true, Title: "R"}); err != nil {
		t.Fatal(err)
	}
	if err := inst.AddRemote(ctx, "r", "file://"+repo, RemoteOptions{NoGPGVerify: true, IfNotExists: true}); err != nil {
		t.Errorf("--if-not-exists: %v", err)
	}
	if rs := inst.Remotes(); len(rs) != 1 || rs[0].Title != "R" || rs[0].GPGVerify {
		t.Errorf("remotes %+v", rs)
	}
	_, refs, err := inst.FetchSummary(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	if rr := refs["app/org.test.Hello/x86_64/stable"]; !strings.Contains(rr.Metadata, "command=hello") || rr.InstalledSize == 0 {
		t.Errorf("remote ref %+v", rr)
	}

	rt := ref.Ref{Kind: ref.Runtime, ID: "org.test.Platform", Arch: "x86_64", Branch: "1"}
	app := ref.Ref{Kind: ref.App, ID: "org.test.Hello", Arch: "x86_64", Branch: "stable"}
	if _, err := inst.Install(ctx, "r", rt, InstallOptions{}); err != nil {
		t.Fatal(err)
	}
	d1, err := inst.Install(ctx, "r", app, InstallOptions{RunCommand: "ph"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := inst.Install(ctx, "r", app, InstallOptions{}); !errors.Is(err, ErrAlreadyInstalled) {
		t.Errorf("second install: %v", err)
	}
	if d1.Origin != "r" || d1.Metadata == nil || d1.Metadata.Command() != "hello" || d1.InstalledSize == 0 {
		t.Errorf("deployment %+v", d1)
	}
	if _, err := os.Stat(filepath.Join(d1.Dir, "files", ".ref")); err != nil {
		t.Error("files/.ref missing")
	}
	desk, _ := os.ReadFile(filepath.Join(inst.Dir, "exports", "share", "applications", "org.test.Hello.desktop"))
	if !strings.Contains(string(desk), "Exec=ph run --branch=stable --arch=x86_64 --command=hello org.test.Hello --x %U") || !strings.Contains(string(desk), "X-Flatpak=org.test.Hello") {
		t.Errorf("desktop file:\n%s", desk)
	}
	if cur, _ := os.Readlink(filepath.Join(inst.Dir, "app", "org.test.Hello", "current")); cur != "x86_64/stable" {
		t.Errorf("current -> %q", cur)
	}
	// The repository's object was not changed by the Exec rewrite.
	if errs := fsckInstallation(t, inst); errs != "" {
		t.Error(errs)
	}

	if u, _ := inst.Unused(); len(u) != 0 {
		t.Errorf("unused %v", u)
	}
	if err := inst.Uninstall(ctx, rt, UninstallOptions{}); !errors.Is(err, ErrInUse) {
		t.Errorf("uninstalling a used runtime: %v", err)
	}

	publishTo(t, repo, dir, "v2")
	d2, changed, err := inst.Update(ctx, app, InstallOptions{})
	if err != nil || !changed || d2.Commit == d1.Commit {
		t.Fatalf("update: %v %v", changed, err)
	}
	if _, err := os.Stat(d1.Dir); err == nil {
		t.Error("old deployment kept")
	}
	if _, changed, err := inst.Update(ctx, app, InstallOptions{}); err != nil || changed {
		t.Errorf("no-op update: %v %v", changed, err)
	}
	p, _ := ref.ParsePartial("org.test.Hello", "", "", "")
	if r, err := inst.Find(p); err != nil || r != app {
		t.Errorf("Find %v %v", r, err)
	}
	if err := inst.DeleteRemote(ctx, "r", false); err == nil {
		t.Error("deleted a remote in use")
	}
	data := filepath.Join(dir, "data")
	os.MkdirAll(filepath.Join(data, "org.test.Hello"), 0o755)
	if err := inst.Uninstall(ctx, app, UninstallOptions{DeleteData: true, DataDir: data}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(data, "org.test.Hello")); err == nil {
		t.Error("data kept with DeleteData")
	}
	if u, _ := inst.Unused(); len(u) != 1 || u[0] != rt {
		t.Errorf("unused %v", u)
	}
	if err := inst.Uninstall(ctx, rt, UninstallOptions{}); err != nil {
		t.Fatal(err)
	}
	if ds, _ := inst.List(); len(ds) != 0 {
		t.Errorf("left %v", ds)
	}
	if _, err := os.Lstat(filepath.Join(inst.Dir, "exports", "share", "applications", "org.test.Hello.desktop")); err == nil {
		t.Error("dangling export kept")
	}
	h, _ := inst.History()
	if len(h) != 5 {
		t.Errorf("history %v", h)
	}
	if err := inst.DeleteRemote(ctx, "r", false); err != nil {
		t.Error(err)
	}
}

// holdRef takes the read lock a running sandbox holds on a deployment's
// files/.ref, until the test ends or release is called.
func holdRef(t *testing.T, dep string) (release func()) {
	t.Helper()
	fd, err := unix.Open(filepath.Join(dep, "files", ".ref"), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	lk := unix.Flock_t{Type: unix.F_RDLCK}
	if err := unix.FcntlFlock(uintptr(fd), unix.F_OFD_SETLK, &lk); err != nil {
		t.Fatal(err)
	}
	var once bool
	release = func() {
		if !once {
			once = true
			unix.Close(fd)
		}
	}
	t.Cleanup(release)
	return release
}

// TestRetiredWhileRunning: a deployment a sandbox runs from survives an
// update and an uninstall, moved to .removed/ID-COMMIT with flatpak's
// marker, and goes once the sandbox has ended.
func TestRetiredWhileRunning(t *testing.T) {
	ctx := context.Background()
	inst, repo, dir := openPublished(t)
	if err := inst.AddRemote(ctx, "r", "file://"+repo, RemoteOptions{NoGPGVerify: true}); err != nil {
		t.Fatal(err)
	}
	app := ref.Ref{Kind: ref.App, ID: "org.test.Hello", Arch: "x86_64", Branch: "stable"}
	if _, err := inst.Install(ctx, "r", ref.Ref{Kind: ref.Runtime, ID: "org.test.Platform", Arch: "x86_64", Branch: "1"}, InstallOptions{}); err != nil {
		t.Fatal(err)
	}
	d1, err := inst.Install(ctx, "r", app, InstallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	release := holdRef(t, d1.Dir)
	hello := filepath.Join("files", "bin", "hello")

	publishTo(t, repo, dir, "v2")
	d2, changed, err := inst.Update(ctx, app, InstallOptions{})
	if err != nil || !changed {
		t.Fatalf("update: %v %v", changed, err)
	}
	old := filepath.Join(inst.Dir, ".removed", "org.test.Hello-"+d1.Commit)
	if b, err := os.ReadFile(filepath.Join(old, hello)); err != nil || !strings.Contains(string(b), "v1") {
		t.Fatalf("the running deployment after the update: %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(old, "files", ".updated")); err != nil {
		t.Errorf("no files/.updated marker: %v", err)
	}
	if _, err := os.Stat(d1.Dir); err == nil {
		t.Error("the old deployment is still in place")
	}
	if err := inst.Prune(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(old); err != nil {
		t.Errorf("pruned while running: %v", err)
	}
	release()
	if err := inst.Prune(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(old); err == nil {
		t.Error("kept after the sandbox ended")
	}

	// Uninstalling while running: the files stay, marked .removed.
	holdRef(t, d2.Dir)
	if err := inst.Uninstall(ctx, app, UninstallOptions{}); err != nil {
		t.Fatal(err)
	}
	gone := filepath.Join(inst.Dir, ".removed", "org.test.Hello-"+d2.Commit)
	if b, err := os.ReadFile(filepath.Join(gone, hello)); err != nil || !strings.Contains(string(b), "v2") {
		t.Errorf("the running deployment after uninstall: %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(gone, "files", ".removed")); err != nil {
		t.Errorf("no files/.removed marker: %v", err)
	}
	if _, err := inst.Get(app); err == nil {
		t.Error("still installed")
	}
	// Not running: retired and deleted at once.
	d3, err := inst.Install(ctx, "r", app, InstallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := inst.Uninstall(ctx, app, UninstallOptions{}); err != nil {
		t.Fatal(err)
	}
	if d3.Commit != d2.Commit {
		t.Fatalf("reinstalled %s, want %s", d3.Commit, d2.Commit)
	}
	ents, _ := os.ReadDir(filepath.Join(inst.Dir, ".removed"))
	if len(ents) != 1 {
		t.Errorf(".removed holds %d entries, want the running one only", len(ents))
	}
}
