package tests

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// stdoutOf runs a tool in w's environment and returns its standard output
// alone (progress goes to standard error), failing the test on error.
func (w *fpWorld) stdoutOf(name string, args ...string) string {
	w.t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = w.env()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		w.t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// transactionText drops the progress lines flatpak writes to standard
// output ("Installing 1/2…", "Updating…", "Uninstalling 1/2…").
func transactionText(s string) string {
	var keep []string
	for _, l := range strings.SplitAfter(s, "\n") {
		if strings.HasPrefix(l, "Installing") || strings.HasPrefix(l, "Updating") || strings.HasPrefix(l, "Uninstalling") {
			continue
		}
		keep = append(keep, l)
	}
	return strings.Join(keep, "")
}

// permApp writes an app asking for many kinds of permissions.
func (w *fpWorld) permApp(name string, extra ...string) string {
	w.t.Helper()
	app := filepath.Join(w.dir, "build-"+name)
	os.RemoveAll(app)
	w.pt("build-init", app, "org.test.Hello", "org.test.Platform", "org.test.Platform", "1")
	os.MkdirAll(filepath.Join(app, "files", "bin"), 0o755)
	os.WriteFile(filepath.Join(app, "files", "bin", "hello"), []byte("#!/bin/sh\necho hi\n"), 0o755)
	args := append([]string{"build-finish", app, "--command=hello", "--share=network", "--share=ipc",
		"--socket=wayland", "--socket=pulseaudio", "--device=all", "--allow=devel", "--filesystem=home:ro",
		"--filesystem=xdg-music", "--filesystem=/srv/some/rather/long/path/for/wrapping", "--nofilesystem=host",
		"--talk-name=org.freedesktop.Notifications", "--talk-name=org.kde.StatusNotifierWatcher",
		"--own-name=org.test.Hello.Extra", "--system-talk-name=org.freedesktop.UDisks2"}, extra...)
	w.pt(args...)
	return app
}

// TestInstallShowsPermissionsLikeFlatpak: the permissions, end-of-life
// notice and operations porthole install and update print before asking
// are flatpak's, byte for byte (non-terminal output).
func TestInstallShowsPermissionsLikeFlatpak(t *testing.T) {
	w := newFPWorld(t)
	repo := filepath.Join(w.dir, "repo")
	w.publishPT(repo, w.tinyRuntime("org.test.Platform"), w.permApp("v1"))
	url := w.serve(repo)
	w.fp("--user", "remote-add", "--gpg-import="+w.pub, "r", url)
	w.pt("remote-add", "--user", "--gpg-import="+w.pub, "r", url)
	fp := transactionText(w.stdoutOf("flatpak", "--user", "install", "-y", "r", "org.test.Hello"))
	pt := w.stdoutOf(w.bin, "install", "--user", "-y", "r", "org.test.Hello")
	if pt != fp {
		t.Errorf("install output differs\nporthole:\n%s\nflatpak:\n%s", pt, fp)
	}
	if !strings.Contains(pt, "org.test.Hello permissions:\n    ipc\tnetwork\tpulseaudio\twayland\n") {
		t.Errorf("permissions not shown:\n%s", pt)
	}

	// An update asking for more: only the new permissions are shown.
	w.publishPT(repo, "", w.permApp("v2", "--socket=x11", "--filesystem=xdg-download", "--system-own-name=org.test.Sys"))
	fp = transactionText(w.stdoutOf("flatpak", "--user", "update", "-y"))
	pt = w.stdoutOf(w.bin, "update", "--user", "-y")
	if pt != fp {
		t.Errorf("update output differs\nporthole:\n%s\nflatpak:\n%s", pt, fp)
	}
	if !strings.Contains(pt, "New org.test.Hello permissions:") {
		t.Errorf("new permissions not shown:\n%s", pt)
	}
}
