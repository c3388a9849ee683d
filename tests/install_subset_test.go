package tests

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestSubsetsLikeFlatpak: refs exported with --subset go into the
// SUBSET-ARCH subsummaries of the summary index; a remote added with
// --subset sees only those refs. Both tools agree on repositories either
// made.
func TestSubsetsLikeFlatpak(t *testing.T) {
	for _, tool := range []string{"porthole", "flatpak"} {
		t.Run(tool, func(t *testing.T) {
			w := newFPWorld(t)
			repo := filepath.Join(w.dir, "repo")
			sign := []string{"--gpg-sign=" + w.fpr, "--gpg-homedir=" + w.gpgHome}
			export := func(args ...string) {
				if tool == "flatpak" {
					w.fp(append(append([]string{"build-export", "--no-update-summary", "--disable-sandbox"}, sign...), args...)...)
				} else {
					w.pt(append(append([]string{"build-export", "--no-update-summary"}, sign...), args...)...)
				}
			}
			export("--runtime", "--subset=one", repo, w.tinyRuntime("org.test.Platform"), "1")
			export("--subset=one", "--subset=two", repo, w.helloApp(tool, "app", "hi"), "stable")
			other := filepath.Join(w.dir, "build-other")
			os.MkdirAll(filepath.Join(other, "files", "bin"), 0o755)
			os.WriteFile(filepath.Join(other, "files", "bin", "hello"), []byte("#!/bin/sh\necho other\n"), 0o755)
			os.WriteFile(filepath.Join(other, "metadata"), []byte("[Application]\nname=org.test.Other\nruntime=org.test.Platform/x86_64/1\nsdk=org.test.Platform/x86_64/1\ncommand=hello\n"), 0o644)
			if tool == "flatpak" {
				w.fp("build-finish", other, "--command=hello")
			} else {
				w.pt("build-finish", other, "--command=hello")
			}
			export(repo, other, "stable")
			if tool == "flatpak" {
				w.fp(append([]string{"build-update-repo", "--gpg-import=" + w.pub}, append(sign, repo)...)...)
			} else {
				w.pt(append([]string{"build-update-repo", "--gpg-import=" + w.pub}, append(sign, repo)...)...)
			}
			url := w.serve(repo)
			w.pt("remote-add", "--user", "--subset=one", "--gpg-import="+w.pub, "r", url)
			w.fp("--user", "remote-add", "--subset=one", "--gpg-import="+w.pub, "r", url)
			w.pt("remote-add", "--user", "--gpg-import="+w.pub, "all", url)
			w.fp("--user", "remote-add", "--gpg-import="+w.pub, "all", url)
			ids := func(out string, col int) string {
				var v []string
				for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
					if f := strings.Split(l, "\t"); len(f) > col {
						v = append(v, f[col])
					}
				}
				sort.Strings(v)
				return strings.Join(v, " ")
			}
			for remote, want := range map[string]string{"r": "org.test.Hello org.test.Platform", "all": "org.test.Hello org.test.Other org.test.Platform"} {
				if got := ids(w.pt("remote-ls", "--user", remote), 0); got != want {
					t.Errorf("porthole remote-ls %s: %q, want %q", remote, got, want)
				}
				if got := ids(w.fp("--user", "remote-ls", "--columns=application", remote), 0); got != want {
					t.Errorf("flatpak remote-ls %s: %q, want %q", remote, got, want)
				}
			}
			w.pt("install", "--user", "-y", "--noninteractive", "r", "org.test.Hello")
			w.ptFail("install", "--user", "-y", "--noninteractive", "r", "org.test.Other")
		})
	}
}
