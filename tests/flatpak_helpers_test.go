package tests

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/porthole-dev/porthole/internal/testenv"
)

// fpWorld is one test's publishing and installing setup: a GnuPG key, a
// porthole binary, and separate installations for porthole and flatpak.
type fpWorld struct {
	t                 *testing.T
	dir               string
	bin               string
	gpgHome, fpr, pub string
	ptInst, fpInst    string

	mu       sync.Mutex
	requests []string // paths served, in order
}

// served reports whether a request path matching all parts was served.
func (w *fpWorld) served(parts ...string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, p := range w.requests {
		ok := true
		for _, part := range parts {
			ok = ok && strings.Contains(p, part)
		}
		if ok {
			return true
		}
	}
	return false
}

func newFPWorld(t *testing.T) *fpWorld {
	t.Helper()
	testenv.RequireCommand(t, "flatpak")
	testenv.RequireCommand(t, "gpg")
	w := &fpWorld{t: t, dir: t.TempDir(), bin: spBin(t)}
	w.gpgHome, w.fpr, w.pub = spGPGHome(t, "rsa2048")
	w.ptInst = filepath.Join(w.dir, "pt-inst")
	w.fpInst = filepath.Join(w.dir, "fp-inst")
	os.Mkdir(filepath.Join(w.dir, "xdg"), 0o700)
	return w
}

func (w *fpWorld) env() []string {
	return testenv.WithEnv(os.Environ(), "PORTHOLE_USER_DIR="+w.ptInst, "FLATPAK_USER_DIR="+w.fpInst,
		"PORTHOLE_SYSTEM_DIR="+filepath.Join(w.dir, "pt-system"), "FLATPAK_SYSTEM_DIR="+filepath.Join(w.dir, "fp-system"),
		"GNUPGHOME="+w.gpgHome, "HOME="+filepath.Join(w.dir, "home"), "XDG_RUNTIME_DIR="+filepath.Join(w.dir, "xdg"),
		"DBUS_SESSION_BUS_ADDRESS", "DISPLAY", "WAYLAND_DISPLAY")
}

func (w *fpWorld) run(name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = w.env()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// pt runs porthole and fails the test on error.
func (w *fpWorld) pt(args ...string) string {
	w.t.Helper()
	out, err := w.run(w.bin, args...)
	if err != nil {
		w.t.Fatalf("porthole %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// ptFail runs porthole expecting failure.
func (w *fpWorld) ptFail(args ...string) string {
	w.t.Helper()
	out, err := w.run(w.bin, args...)
	if err == nil {
		w.t.Fatalf("porthole %s succeeded, want failure\n%s", strings.Join(args, " "), out)
	}
	return out
}

// fp runs flatpak and fails the test on error.
func (w *fpWorld) fp(args ...string) string {
	w.t.Helper()
	out, err := w.run("flatpak", args...)
	if err != nil {
		w.t.Fatalf("flatpak %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// serve serves dir over HTTP on 127.0.0.1 and returns its URL.
func (w *fpWorld) serve(dir string) string {
	fs := http.FileServer(http.Dir(dir))
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.mu.Lock()
		w.requests = append(w.requests, r.URL.Path)
		w.mu.Unlock()
		fs.ServeHTTP(rw, r)
	}))
	w.t.Cleanup(srv.Close)
	return srv.URL
}

// tinyRuntime writes a runtime build directory org.test.Platform whose
// /usr holds dash as sh with the C library, enough for shell scripts.
func (w *fpWorld) tinyRuntime(id string) string {
	w.t.Helper()
	rt := filepath.Join(w.dir, "build-"+id)
	files := filepath.Join(rt, "usr")
	for src, dst := range map[string]string{
		"/bin/dash":                                      "bin/sh",
		"/usr/lib/x86_64-linux-gnu/libc.so.6":            "lib/x86_64-linux-gnu/libc.so.6",
		"/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2": "lib64/ld-linux-x86-64.so.2",
	} {
		data, err := os.ReadFile(src)
		if err != nil {
			w.t.Skipf("tiny runtime: %v", err)
		}
		p := filepath.Join(files, dst)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o755); err != nil {
			w.t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Join(rt, "files"), 0o755) // flatpak wants it to exist
	md := "[Runtime]\nname=" + id + "\nruntime=" + id + "/x86_64/1\nsdk=" + id + "/x86_64/1\n"
	if err := os.WriteFile(filepath.Join(rt, "metadata"), []byte(md), 0o644); err != nil {
		w.t.Fatal(err)
	}
	return rt
}

// helloApp writes (with porthole build-init and build-finish, or flatpak's
// when tool is "flatpak") an app org.test.Hello whose command prints msg.
func (w *fpWorld) helloApp(tool, name, msg string) string {
	w.t.Helper()
	app := filepath.Join(w.dir, "build-"+name)
	os.RemoveAll(app)
	run := w.pt
	if tool == "flatpak" {
		run = w.fp
		os.MkdirAll(filepath.Join(app, "files"), 0o755)
		os.WriteFile(filepath.Join(app, "metadata"), []byte("[Application]\nname=org.test.Hello\nruntime=org.test.Platform/x86_64/1\nsdk=org.test.Platform/x86_64/1\n"), 0o644)
	} else {
		run("build-init", app, "org.test.Hello", "org.test.Platform", "org.test.Platform", "1")
	}
	bin := filepath.Join(app, "files", "bin")
	os.MkdirAll(bin, 0o755)
	if err := os.WriteFile(filepath.Join(bin, "hello"), []byte("#!/bin/sh\necho "+msg+"\n"), 0o755); err != nil {
		w.t.Fatal(err)
	}
	apps := filepath.Join(app, "files", "share", "applications")
	os.MkdirAll(apps, 0o755)
	os.WriteFile(filepath.Join(apps, "org.test.Hello.desktop"), []byte("[Desktop Entry]\nType=Application\nName=Hello\nComment=Greets the world\nExec=hello %U\nIcon=org.test.Hello\n"), 0o644)
	run("build-finish", app, "--command=hello", "--share=network", "--socket=wayland", "--filesystem=home:ro",
		"--talk-name=org.freedesktop.Notifications", "--env=FOO=bar")
	return app
}

// publish exports runtime and app into repo with porthole and updates the
// repository, signed with the world's key.
func (w *fpWorld) publishPT(repo, rt, app string) {
	w.t.Helper()
	sign := []string{"--gpg-sign=" + w.fpr, "--gpg-homedir=" + w.gpgHome}
	if rt != "" {
		w.pt(append([]string{"build-export", "--runtime", "--no-update-summary"}, append(sign, repo, rt, "1")...)...)
	}
	if app != "" {
		w.pt(append([]string{"build-export", "--no-update-summary"}, append(sign, repo, app, "stable")...)...)
	}
	w.pt(append([]string{"build-update-repo", "--title=Test Repo", "--default-branch=stable", "--gpg-import=" + w.pub}, append(sign, repo)...)...)
}

// publishFP does the same with flatpak.
func (w *fpWorld) publishFP(repo, rt, app string) {
	w.t.Helper()
	sign := []string{"--gpg-sign=" + w.fpr, "--gpg-homedir=" + w.gpgHome}
	if rt != "" {
		w.fp(append([]string{"build-export", "--runtime", "--no-update-summary", "--disable-sandbox"}, append(sign, repo, rt, "1")...)...)
	}
	if app != "" {
		w.fp(append([]string{"build-export", "--no-update-summary", "--disable-sandbox"}, append(sign, repo, app, "stable")...)...)
	}
	w.fp(append([]string{"build-update-repo", "--title=Test Repo", "--default-branch=stable", "--gpg-import=" + w.pub}, append(sign, repo)...)...)
}
