package tests

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// extensionDir writes a runtime build directory for extension id of
// parent (DIR/usr holds its files).
func (w *fpWorld) extensionDir(id, parent, file string) string {
	w.t.Helper()
	dir := filepath.Join(w.dir, "build-"+id)
	os.RemoveAll(dir)
	os.MkdirAll(filepath.Join(dir, "usr", filepath.Dir(file)), 0o755)
	os.MkdirAll(filepath.Join(dir, "files"), 0o755)
	os.WriteFile(filepath.Join(dir, "usr", file), []byte(id+"\n"), 0o644)
	md := "[Runtime]\nname=" + id + "\n\n[ExtensionOf]\nref=" + parent + "\n"
	if err := os.WriteFile(filepath.Join(dir, "metadata"), []byte(md), 0o644); err != nil {
		w.t.Fatal(err)
	}
	return dir
}

func appendFile(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.WriteString(text)
}

// refSet returns the sorted lines of a list --columns=ref output.
func refSet(out string) string {
	lines := strings.Fields(out)
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// TestRelatedRefsLikeFlatpak: the .Locale extensions a runtime's and an
// app's metadata name are installed with them, shown in the plan, and
// removed with the app; .Debug (no-autodownload) is not installed; an
// update brings a newly named extension. Flatpak does the same with the
// same repository, and prints the same plan.
func TestRelatedRefsLikeFlatpak(t *testing.T) {
	w := newFPWorld(t)
	repo := filepath.Join(w.dir, "repo")
	sign := []string{"--gpg-sign=" + w.fpr, "--gpg-homedir=" + w.gpgHome}
	export := func(dir, branch string, extra ...string) {
		w.pt(append(append([]string{"build-export", "--runtime", "--no-update-summary"}, extra...), append(sign, repo, dir, branch)...)...)
	}
	rt := w.tinyRuntime("org.test.Platform")
	appendFile(t, filepath.Join(rt, "metadata"), "\n[Extension org.test.Platform.Locale]\ndirectory=share/runtime/locale\nautodelete=true\nlocale-subset=true\n")
	export(w.extensionDir("org.test.Platform.Locale", "runtime/org.test.Platform/x86_64/1", "de/share/locale/de/x.mo"), "1")
	export(w.extensionDir("org.test.Hello.Locale", "app/org.test.Hello/x86_64/stable", "de/share/locale/de/hello.mo"), "stable")
	export(w.extensionDir("org.test.Hello.Debug", "app/org.test.Hello/x86_64/stable", "debug/hello.debug"), "stable")
	app := w.helloApp("porthole", "app", "v1")
	appendFile(t, filepath.Join(app, "metadata"), "\n[Extension org.test.Hello.Locale]\ndirectory=share/runtime/locale\nautodelete=true\nlocale-subset=true\n\n[Extension org.test.Hello.Debug]\ndirectory=lib/debug\nautodelete=true\nno-autodownload=true\n")
	w.publishPT(repo, rt, app)
	url := w.serve(repo)
	w.fp("--user", "remote-add", "--gpg-import="+w.pub, "r", url)
	w.pt("remote-add", "--user", "--gpg-import="+w.pub, "r", url)

	fp := transactionText(w.stdoutOf("flatpak", "--user", "install", "-y", "r", "org.test.Hello"))
	pt := w.stdoutOf(w.bin, "install", "--user", "-y", "r", "org.test.Hello")
	if pt != fp {
		t.Errorf("install plan differs\nporthole:\n%s\nflatpak:\n%s", pt, fp)
	}
	want := "org.test.Hello.Locale/x86_64/stable\norg.test.Hello/x86_64/stable\norg.test.Platform.Locale/x86_64/1\norg.test.Platform/x86_64/1"
	if got := refSet(w.pt("list", "--user", "--all", "--columns=ref")); got != want {
		t.Errorf("installed:\n%s\nwant:\n%s", got, want)
	}
	if got := refSet(w.fp("--user", "list", "--all", "--columns=ref")); got != want {
		t.Errorf("flatpak installed:\n%s\nwant:\n%s", got, want)
	}

	// A new extension named by the app's next version comes with the
	// update of the app, and its changed .Locale is updated too.
	export(w.extensionDir("org.test.Hello.Plugin", "app/org.test.Hello/x86_64/stable", "plugin/p.so"), "stable")
	export(w.extensionDir("org.test.Hello.Locale", "app/org.test.Hello/x86_64/stable", "de/share/locale/de/hello2.mo"), "stable")
	app = w.helloApp("porthole", "app", "v2")
	appendFile(t, filepath.Join(app, "metadata"), "\n[Extension org.test.Hello.Locale]\ndirectory=share/runtime/locale\nautodelete=true\nlocale-subset=true\n\n[Extension org.test.Hello.Plugin]\ndirectory=lib/plugin\nautodelete=true\n")
	w.publishPT(repo, "", app)
	fp = transactionText(w.stdoutOf("flatpak", "--user", "update", "-y", "org.test.Hello"))
	pt = w.stdoutOf(w.bin, "update", "--user", "-y", "org.test.Hello")
	if pt != fp || !strings.Contains(pt, "org.test.Hello.Locale\tstable\tu") {
		t.Errorf("update plan differs\nporthole:\n%s\nflatpak:\n%s", pt, fp)
	}
	if got, fgot := refSet(w.pt("list", "--user", "--all", "--columns=ref")), refSet(w.fp("--user", "list", "--all", "--columns=ref")); got != fgot || !strings.Contains(got, "org.test.Hello.Plugin") {
		t.Errorf("after update:\n%s\nflatpak:\n%s", got, fgot)
	}

	// Plain list hides the extensions of listed refs, as flatpak's.
	if got, fgot := w.pt("list", "--user", "--columns=application,branch,options"), w.fp("--user", "list", "--columns=application,branch,options"); got != fgot {
		t.Errorf("list:\n%s\nflatpak:\n%s", got, fgot)
	}

	// Uninstalling the app removes its extensions, not the runtime's.
	w.pt("uninstall", "--user", "-y", "org.test.Hello")
	w.fp("--user", "uninstall", "-y", "org.test.Hello")
	want = "org.test.Platform.Locale/x86_64/1\norg.test.Platform/x86_64/1"
	if got := refSet(w.pt("list", "--user", "--all", "--columns=ref")); got != want {
		t.Errorf("after uninstall:\n%s\nwant:\n%s", got, want)
	}
	if got := refSet(w.fp("--user", "list", "--all", "--columns=ref")); got != want {
		t.Errorf("flatpak after uninstall:\n%s\nwant:\n%s", got, want)
	}
}

// TestEndOfLifeLikeFlatpak: build-export --end-of-life and
// --end-of-life-rebase mark commits as flatpak's do; update prints
// flatpak's notices, records eol in the deploy file, list shows it, and a
// rebase replaces the app by its new id (previous-ids recorded).
func TestEndOfLifeLikeFlatpak(t *testing.T) {
	w := newFPWorld(t)
	repo := filepath.Join(w.dir, "repo")
	w.publishPT(repo, w.tinyRuntime("org.test.Platform"), w.helloApp("porthole", "app", "v1"))
	url := w.serve(repo)
	w.fp("--user", "remote-add", "--gpg-import="+w.pub, "r", url)
	w.pt("remote-add", "--user", "--gpg-import="+w.pub, "r", url)
	w.fp("--user", "install", "-y", "--noninteractive", "r", "org.test.Hello")
	w.pt("install", "--user", "-y", "--noninteractive", "r", "org.test.Hello")

	sign := []string{"--gpg-sign=" + w.fpr, "--gpg-homedir=" + w.gpgHome}
	w.pt(append([]string{"build-export", "--no-update-summary", "--end-of-life=Use org.test.Other instead"}, append(sign, repo, w.helloApp("porthole", "app", "v2"), "stable")...)...)
	w.pt(append([]string{"build-update-repo"}, append(sign, repo)...)...)
	fp := transactionText(w.stdoutOf("flatpak", "--user", "update", "-y"))
	pt := w.stdoutOf(w.bin, "update", "--user", "-y")
	if pt != fp {
		t.Errorf("update output differs\nporthole:\n%s\nflatpak:\n%s", pt, fp)
	}
	if !strings.Contains(pt, "Info: app org.test.Hello branch stable is end-of-life, with reason:\n   Use org.test.Other instead\n") {
		t.Errorf("no end-of-life notice:\n%s", pt)
	}
	rel := "app/org.test.Hello/x86_64/stable/active/deploy"
	a, err1 := os.ReadFile(filepath.Join(w.ptInst, rel))
	b, err2 := os.ReadFile(filepath.Join(w.fpInst, rel))
	if err1 != nil || err2 != nil || !strings.Contains(string(a), "Use org.test.Other instead") || len(a) != len(b) {
		t.Errorf("deploy files (%v, %v):\n%q\n%q", err1, err2, a, b)
	}
	got, want := w.pt("list", "--user", "--columns=application,options"), w.fp("--user", "list", "--columns=application,options")
	if got != want || !strings.Contains(got, "eol=Use org.test.Other instead") {
		t.Errorf("list:\n%s\nflatpak:\n%s", got, want)
	}

	// --end-of-life-rebase records the full ref of the new ID.
	w.pt(append([]string{"build-export", "--no-update-summary", "--end-of-life-rebase=org.test.Renamed"}, append(sign, repo, w.helloApp("porthole", "app", "v3"), "stable")...)...)
	w.fp(append([]string{"build-export", "--no-update-summary", "--disable-sandbox", "--end-of-life-rebase=org.test.Renamed"}, append(sign, filepath.Join(w.dir, "fp-repo"), w.helloApp("porthole", "app", "v3"), "stable")...)...)
	ours := w.pt("store", "show", "--repo="+repo, "--print-metadata-key=ostree.endoflife-rebase", "app/org.test.Hello/x86_64/stable")
	theirs := w.pt("store", "show", "--repo="+filepath.Join(w.dir, "fp-repo"), "--print-metadata-key=ostree.endoflife-rebase", "app/org.test.Hello/x86_64/stable")
	if ours != theirs || !strings.Contains(ours, "app/org.test.Renamed/x86_64/stable") {
		t.Errorf("ostree.endoflife-rebase: ours %q, flatpak's %q", ours, theirs)
	}

	// With the new id published, update replaces the app by it.
	renamed := filepath.Join(w.dir, "build-renamed")
	os.MkdirAll(filepath.Join(renamed, "files", "bin"), 0o755)
	os.WriteFile(filepath.Join(renamed, "files", "bin", "hello"), []byte("#!/bin/sh\necho renamed\n"), 0o755)
	os.WriteFile(filepath.Join(renamed, "metadata"), []byte("[Application]\nname=org.test.Renamed\nruntime=org.test.Platform/x86_64/1\nsdk=org.test.Platform/x86_64/1\n"), 0o644)
	w.pt("build-finish", renamed, "--command=hello", "--share=network")
	w.pt(append([]string{"build-export", "--no-update-summary"}, append(sign, repo, renamed, "stable")...)...)
	w.pt(append([]string{"build-update-repo"}, append(sign, repo)...)...)
	fp = transactionText(w.stdoutOf("flatpak", "--user", "update", "-y"))
	pt = w.stdoutOf(w.bin, "update", "--user", "-y")
	if pt != fp || !strings.Contains(pt, "in favor of org.test.Renamed branch stable") {
		t.Errorf("rebase update output differs\nporthole:\n%s\nflatpak:\n%s", pt, fp)
	}
	got, want = w.pt("list", "--user", "--app", "--columns=application"), w.fp("--user", "list", "--app", "--columns=application")
	if got != want || strings.TrimSpace(got) != "org.test.Renamed" {
		t.Errorf("apps after rebase: %q, flatpak: %q", got, want)
	}
	rel = "app/org.test.Renamed/x86_64/stable/active/deploy"
	a, err1 = os.ReadFile(filepath.Join(w.ptInst, rel))
	b, err2 = os.ReadFile(filepath.Join(w.fpInst, rel))
	if err1 != nil || err2 != nil || !strings.Contains(string(a), "previous-ids") || !strings.Contains(string(b), "previous-ids") {
		t.Errorf("deploy files (%v, %v):\n%q\n%q", err1, err2, a, b)
	}
}
