package tests

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/porthole-dev/porthole/internal/testenv"
)

// runBins holds porthole, porthole-init (pure Go) and the static probe,
// built once per test binary into a directory every user can read.
type runBins struct {
	dir, porthole, probe string
}

var buildRunBins = sync.OnceValues(func() (runBins, error) {
	// Builds of earlier test runs (the package has no TestMain to remove
	// them) are removed once they are a few hours old.
	if old, _ := filepath.Glob(filepath.Join(os.TempDir(), "porthole-run-bin-*")); len(old) > 0 {
		for _, d := range old {
			if fi, err := os.Stat(d); err == nil && time.Since(fi.ModTime()) > 3*time.Hour {
				os.RemoveAll(d)
			}
		}
	}
	dir, err := os.MkdirTemp("", "porthole-run-bin-")
	if err != nil {
		return runBins{}, err
	}
	os.Chmod(dir, 0o755)
	b := runBins{dir: dir, porthole: filepath.Join(dir, "porthole"), probe: filepath.Join(dir, "probe")}
	for _, c := range []struct {
		out, pkg string
		cgo      bool
	}{
		{b.porthole, "github.com/porthole-dev/porthole/cmd/porthole", true},
		{filepath.Join(dir, "porthole-init"), "github.com/porthole-dev/porthole/cmd/porthole-init", false},
		{b.probe, "github.com/porthole-dev/porthole/tests/run_probe", false},
	} {
		cmd := exec.Command("go", "build", "-o", c.out, c.pkg)
		cmd.Env = os.Environ()
		if !c.cgo {
			cmd.Env = append(cmd.Env, "CGO_ENABLED=0")
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			return runBins{}, &buildError{c.pkg, err, string(out)}
		}
	}
	return b, nil
})

type buildError struct {
	pkg string
	err error
	out string
}

func (e *buildError) Error() string { return "building " + e.pkg + ": " + e.err.Error() + "\n" + e.out }

func needRunBins(t *testing.T) runBins {
	t.Helper()
	testenv.RequireUserNS(t)
	b, err := buildRunBins()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// runFixture is a Flatpak installation holding a tiny runtime
// (org.test.Platform, almost empty) and an app (org.test.Probe whose
// command is the static probe), made by the real flatpak, so both
// `flatpak run` and `porthole run` can run the same deployment.
type runFixture struct {
	inst string
}

// fixtureVersion changes when the fixture's recipe does.
const fixtureVersion = "2"

var buildRunFixture = sync.OnceValues(func() (runFixture, error) {
	b, err := buildRunBins()
	if err != nil {
		return runFixture{}, err
	}
	probeData, err := os.ReadFile(b.probe)
	if err != nil {
		return runFixture{}, err
	}
	// The fixture is reused across test runs while the probe is unchanged.
	sum := sha256.Sum256(append(probeData, fixtureVersion...))
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("porthole-run-fixture-%x", sum[:6]))
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err == nil {
		return runFixture{inst: filepath.Join(dir, "inst")}, nil
	}
	os.RemoveAll(dir)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return runFixture{}, err
	}
	rt, app := filepath.Join(dir, "rt"), filepath.Join(dir, "app")
	for _, d := range []string{rt + "/usr/etc", rt + "/usr/bin", rt + "/files", app + "/files/bin", app + "/files/lib", app + "/var"} {
		os.MkdirAll(d, 0o755)
	}
	// A static ldconfig makes both tools generate an ld.so.cache per app
	// and runtime commit, with /app/lib in it.
	if ldconfig, err := os.ReadFile("/usr/sbin/ldconfig"); err == nil {
		os.WriteFile(rt+"/usr/bin/ldconfig", ldconfig, 0o755)
	}
	if lib, err := os.ReadFile("/usr/lib/x86_64-linux-gnu/libz.so.1"); err == nil {
		os.WriteFile(app+"/files/lib/libz.so.1", lib, 0o644)
	}
	os.WriteFile(rt+"/metadata", []byte("[Runtime]\nname=org.test.Platform\nruntime=org.test.Platform/x86_64/master\nsdk=org.test.Platform/x86_64/master\n"), 0o644)
	os.WriteFile(app+"/files/bin/probe", probeData, 0o755)
	os.WriteFile(app+"/metadata", []byte("[Application]\nname=org.test.Probe\nruntime=org.test.Platform/x86_64/master\nsdk=org.test.Platform/x86_64/master\ncommand=probe\n\n[Context]\nshared=ipc;\n"), 0o644)
	inst := filepath.Join(dir, "inst")
	repo := filepath.Join(dir, "repo")
	env := append(os.Environ(), "FLATPAK_USER_DIR="+inst)
	for _, args := range [][]string{
		{"build-export", "--runtime", repo, rt, "master"},
		{"build-finish", app},
		{"build-export", repo, app, "master"},
		{"--user", "remote-add", "--no-gpg-verify", "test", "file://" + repo},
		{"--user", "install", "-y", "--noninteractive", "test", "org.test.Platform", "org.test.Probe"},
	} {
		cmd := exec.Command("flatpak", args...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			return runFixture{}, &buildError{"flatpak " + strings.Join(args, " "), err, string(out)}
		}
	}
	exec.Command("chmod", "-R", "a+rX", dir).Run()
	os.WriteFile(filepath.Join(dir, ".complete"), nil, 0o644)
	return runFixture{inst: inst}, nil
})

func needRunFixture(t *testing.T) runFixture {
	t.Helper()
	testenv.RequireCommand(t, "flatpak")
	f, err := buildRunFixture()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// runAs runs name args as u with a fresh HOME and XDG_RUNTIME_DIR, and
// the installation inst as both tools' user installation.
func runAs(t *testing.T, u testenv.User, home, inst string, name string, args ...string) (string, error) {
	t.Helper()
	return runAsEnv(t, u, home, inst, nil, name, args...)
}

// runAsEnv is runAs with extra KEY=VALUE entries in the environment.
func runAsEnv(t *testing.T, u testenv.User, home, inst string, env []string, name string, args ...string) (string, error) {
	t.Helper()
	cmd := u.Command(t, name, args...)
	cmd.Env = testenv.WithEnv(cmd.Env, "HOME="+home, "FLATPAK_USER_DIR="+inst, "PORTHOLE_USER_DIR="+inst,
		"PORTHOLE_SYSTEM_DIR="+filepath.Join(home, "no-system"), "DBUS_SESSION_BUS_ADDRESS", "DISPLAY", "WAYLAND_DISPLAY", "XAUTHORITY")
	cmd.Env = testenv.WithEnv(cmd.Env, env...)
	cmd.Dir = home
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return out.String() + errb.String(), err
	}
	return out.String(), nil
}

// probeMap parses the probe's key=value lines.
func probeMap(out string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = v
		}
	}
	return m
}
