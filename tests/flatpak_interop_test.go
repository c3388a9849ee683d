package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/porthole-dev/porthole/internal/testenv"
	"github.com/porthole-dev/porthole/runtime/flatpakref"
)

// TestFlatpakInstallsOurs: an app and runtime published with porthole
// build-* install with the real flatpak (GPG verification on), show in
// flatpak info, and run.
func TestFlatpakInstallsOurs(t *testing.T) {
	w := newFPWorld(t)
	repo := filepath.Join(w.dir, "repo")
	w.publishPT(repo, w.tinyRuntime("org.test.Platform"), w.helloApp("porthole", "app", "hello from porthole"))
	url := w.serve(repo)
	w.fp("--user", "remote-add", "--gpg-import="+w.pub, "ours", url)
	if out := w.fp("--user", "remote-ls", "ours"); !strings.Contains(out, "org.test.Hello") || !strings.Contains(out, "org.test.Platform") {
		t.Fatalf("flatpak remote-ls:\n%s", out)
	}
	w.fp("--user", "install", "-y", "--noninteractive", "ours", "org.test.Hello")
	// flatpak 1.14 used the indexed summary we wrote, not the fallback.
	for _, parts := range [][]string{{"/summary.idx"}, {"/summaries/", ".idx.sig"}, {"/summaries/", ".gz"}} {
		if !w.served(parts...) {
			t.Errorf("flatpak did not fetch %v", parts)
		}
	}
	info := w.fp("--user", "info", "org.test.Hello")
	for _, want := range []string{"app/org.test.Hello/x86_64/stable", "Origin: ours", "Runtime: org.test.Platform/x86_64/1"} {
		if !strings.Contains(info, want) {
			t.Errorf("flatpak info lacks %q:\n%s", want, info)
		}
	}
	w.fp("--user", "info", "org.test.Platform")
	// flatpak reads the appstream branch we generated.
	w.fp("--user", "update", "--appstream", "ours")
	if out := w.fp("--user", "search", "greets"); !strings.Contains(out, "org.test.Hello") {
		t.Errorf("flatpak search of our appstream:\n%s", out)
	}
	perms := w.fp("--user", "info", "--show-permissions", "org.test.Hello")
	if !strings.Contains(perms, "shared=network;") || !strings.Contains(perms, "org.freedesktop.Notifications=talk") {
		t.Errorf("permissions:\n%s", perms)
	}
	// The exported desktop file was taken into build-finish's export/.
	if _, err := os.Stat(filepath.Join(w.fpInst, "exports", "share", "applications", "org.test.Hello.desktop")); err != nil {
		t.Errorf("flatpak did not export our desktop file: %v", err)
	}
	testenv.Require(t, testenv.HaveUserNS() || testenv.IsRoot(), "flatpak run needs user namespaces")
	out, err := w.run("flatpak", "--user", "run", "org.test.Hello")
	if err != nil || !strings.Contains(out, "hello from porthole") {
		t.Fatalf("flatpak run: %v\n%s", err, out)
	}
}

// TestWeInstallFlatpaks: what flatpak build-export + build-update-repo
// --gpg-sign publishes installs with porthole, verification on; the
// deployment matches flatpak's own byte for byte where Flatpak is
// deterministic (metadata, deploy file).
func TestWeInstallFlatpaks(t *testing.T) {
	w := newFPWorld(t)
	repo := filepath.Join(w.dir, "repo")
	w.publishFP(repo, w.tinyRuntime("org.test.Platform"), w.helloApp("flatpak", "app", "hello from flatpak"))
	url := w.serve(repo)
	w.pt("remote-add", "--user", "--gpg-import="+w.pub, "theirs", url)
	w.fp("--user", "remote-add", "--gpg-import="+w.pub, "theirs", url)
	out := w.pt("install", "--user", "-y", "theirs", "org.test.Hello")
	if !strings.Contains(out, "org.test.Hello permissions:") || !strings.Contains(out, "network") {
		t.Errorf("install did not show permissions:\n%s", out)
	}
	w.fp("--user", "install", "-y", "--noninteractive", "theirs", "org.test.Hello")
	list := w.pt("list", "--user", "--columns=ref,origin")
	if want := w.fp("--user", "list", "--columns=ref,origin"); list != want {
		t.Fatalf("porthole list:\n%s\nflatpak list:\n%s", list, want)
	}
	for _, rel := range []string{"app/org.test.Hello/x86_64/stable/active/metadata", "app/org.test.Hello/x86_64/stable/active/deploy",
		"runtime/org.test.Platform/x86_64/1/active/deploy", "runtime/org.test.Platform/x86_64/1/active/files/bin/sh",
		"app/org.test.Hello/x86_64/stable/active/files/bin/hello"} {
		a, err1 := os.ReadFile(filepath.Join(w.ptInst, rel))
		b, err2 := os.ReadFile(filepath.Join(w.fpInst, rel))
		if err1 != nil || err2 != nil || string(a) != string(b) {
			t.Errorf("%s differs from flatpak's (%v, %v)", rel, err1, err2)
		}
	}
	if got := w.pt("info", "--user", "--show-metadata", "org.test.Hello"); got != w.fp("--user", "info", "--show-metadata", "org.test.Hello") {
		t.Errorf("metadata differs:\n%s", got)
	}
	// Exports: desktop file Exec rewritten, bin wrapper.
	desk, err := os.ReadFile(filepath.Join(w.ptInst, "exports", "share", "applications", "org.test.Hello.desktop"))
	if err != nil || !strings.Contains(string(desk), "Exec=porthole run --branch=stable --arch=x86_64 --command=hello org.test.Hello %U") {
		t.Errorf("exported desktop file (%v):\n%s", err, desk)
	}
	if wrapper, err := os.ReadFile(filepath.Join(w.ptInst, "exports", "bin", "org.test.Hello")); err != nil || !strings.Contains(string(wrapper), "run --branch=stable --arch=x86_64 org.test.Hello") {
		t.Errorf("bin wrapper (%v): %s", err, wrapper)
	}
	// Files are hard links into the repository (stored once).
	fi, err := os.Stat(filepath.Join(w.ptInst, "runtime/org.test.Platform/x86_64/1/active/files/bin/sh"))
	if err != nil || statNlink(fi) < 2 {
		t.Errorf("deployed file is not hard-linked from the repository")
	}
	if out := w.pt("remote-ls", "--user", "theirs"); !strings.Contains(out, "org.test.Hello\tx86_64\tstable") {
		t.Errorf("remote-ls:\n%s", out)
	}
	if out := w.pt("remote-info", "--user", "theirs", "org.test.Hello"); !strings.Contains(out, "app/org.test.Hello/x86_64/stable") {
		t.Errorf("remote-info:\n%s", out)
	}
	if out := w.pt("history", "--user"); !strings.Contains(out, "install\tapp/org.test.Hello/x86_64/stable") {
		t.Errorf("history:\n%s", out)
	}
	if testenv.HaveUserNS() || testenv.IsRoot() {
		rb, err := buildRunBins() // porthole next to the static porthole-init
		if err != nil {
			t.Fatal(err)
		}
		if out, err := w.run(rb.porthole, "run", "org.test.Hello"); err != nil || !strings.Contains(out, "hello from flatpak") {
			t.Errorf("porthole run of the installed app: %v\n%s", err, out)
		}
	}
	w.pt("uninstall", "--user", "-y", "org.test.Hello")
	w.pt("uninstall", "--user", "-y", "--unused")
	if out := w.pt("list", "--user"); strings.TrimSpace(out) != "" {
		t.Errorf("list after uninstall:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(w.ptInst, "exports", "bin", "org.test.Hello")); err == nil {
		t.Error("export left after uninstall")
	}
}

// TestFlatpakrefCrossUse: a .flatpakrepo porthole writes works with
// flatpak remote-add --from; flatpak's .flatpakref (vector format) works
// with porthole install, which adds the remote and installs the runtime
// through RuntimeRepo.
func TestFlatpakrefCrossUse(t *testing.T) {
	w := newFPWorld(t)
	repo := filepath.Join(w.dir, "repo")
	w.publishPT(repo, w.tinyRuntime("org.test.Platform"), w.helloApp("porthole", "app", "hi"))
	url := w.serve(repo)
	key, err := os.ReadFile(w.pub)
	if err != nil {
		t.Fatal(err)
	}
	repoFile := filepath.Join(w.dir, "test.flatpakrepo")
	os.WriteFile(repoFile, (&flatpakref.Repo{URL: url + "/", Title: "Test Repo", DefaultBranch: "stable", GPGKey: key}).Bytes(), 0o644)
	w.fp("--user", "remote-add", "--from", "viarepo", repoFile)
	w.fp("--user", "install", "-y", "--noninteractive", "viarepo", "org.test.Hello")

	// The vector .flatpakref, pointed at our server; RuntimeRepo served too.
	vec, err := os.ReadFile("../runtime/flatpakref/testdata/hello.flatpakref")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(repo, "test.flatpakrepo"), (&flatpakref.Repo{URL: url + "/", Title: "Test Repo", GPGKey: key}).Bytes(), 0o644)
	fr, err := flatpakref.ParseRef(vec)
	if err != nil {
		t.Fatal(err)
	}
	fr.URL, fr.GPGKey, fr.RuntimeRepo = url+"/", key, url+"/test.flatpakrepo"
	refFile := filepath.Join(w.dir, "hello.flatpakref")
	os.WriteFile(refFile, fr.Bytes(), 0o644)
	w.pt("install", "--user", "-y", refFile)
	if out := w.pt("search", "--user", "greets"); !strings.Contains(out, "org.test.Hello") {
		t.Errorf("porthole search:\n%s", out)
	}
	if out := w.pt("remotes", "--user"); !strings.Contains(out, "hellorepo") {
		t.Errorf("remotes:\n%s", out)
	}
	if out := w.pt("list", "--user", "--columns=ref"); !strings.Contains(out, "org.test.Platform/x86_64/1") || !strings.Contains(out, "org.test.Hello/x86_64/") {
		t.Errorf("list:\n%s", out)
	}
	// flatpak accepts the .flatpakref porthole wrote.
	w.fp("--user", "uninstall", "-y", "--noninteractive", "org.test.Hello")
	w.fp("--user", "install", "-y", "--noninteractive", "--from", refFile)
}
