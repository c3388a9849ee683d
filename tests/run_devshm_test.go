package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/porthole-dev/porthole/internal/testenv"
)

// shmToolSrc is a static helper run inside the sandbox: "put NAME"
// creates /dev/shm/NAME, "wait NAME" waits until /dev/shm/NAME exists
// (another instance puts it), "ls" prints /dev/shm's entries.
const shmToolSrc = `package main

import (
	"fmt"
	"os"
	"sort"
	"time"
)

func main() {
	for i := 1; i+1 < len(os.Args) || os.Args[i] == "ls"; i += 2 {
		switch os.Args[i] {
		case "put":
			if err := os.WriteFile("/dev/shm/"+os.Args[i+1], nil, 0o644); err != nil {
				fmt.Println("error", err)
				os.Exit(1)
			}
		case "wait":
			for n := 0; ; n++ {
				if _, err := os.Stat("/dev/shm/" + os.Args[i+1]); err == nil {
					break
				}
				if n > 1200 {
					fmt.Println("error: gave up waiting for", os.Args[i+1])
					os.Exit(1)
				}
				time.Sleep(50 * time.Millisecond)
			}
		case "ls":
			ents, _ := os.ReadDir("/dev/shm")
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			sort.Strings(names)
			fmt.Printf("shm=%v\n", names)
			return
		}
	}
}
`

var buildShmTool = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "porthole-shmtool-")
	if err != nil {
		return "", err
	}
	os.Chmod(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module shmtool\n\ngo 1.22\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "main.go"), []byte(shmToolSrc), 0o644)
	cmd := exec.Command("go", "build", "-o", "shmtool", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", &buildError{"shmtool", err, string(out)}
	}
	return dir, nil
})

// buildOtherApp installs, with the real flatpak, a second app
// (org.test.Other, whose command is the shm tool) and the fixture's tiny
// runtime into an installation of its own.
var buildOtherApp = sync.OnceValues(func() (string, error) {
	tool, err := buildShmTool()
	if err != nil {
		return "", err
	}
	data, err := os.ReadFile(filepath.Join(tool, "shmtool"))
	if err != nil {
		return "", err
	}
	dir := filepath.Join(tool, "other")
	rt, app := filepath.Join(dir, "rt"), filepath.Join(dir, "app")
	for _, d := range []string{rt + "/files", rt + "/usr", app + "/files/bin", app + "/var"} {
		os.MkdirAll(d, 0o755)
	}
	os.WriteFile(rt+"/metadata", []byte("[Runtime]\nname=org.test.Platform\nruntime=org.test.Platform/x86_64/master\nsdk=org.test.Platform/x86_64/master\n"), 0o644)
	os.WriteFile(app+"/files/bin/shmtool", data, 0o755)
	os.WriteFile(app+"/metadata", []byte("[Application]\nname=org.test.Other\nruntime=org.test.Platform/x86_64/master\nsdk=org.test.Platform/x86_64/master\ncommand=shmtool\n"), 0o644)
	inst, repo := filepath.Join(dir, "inst"), filepath.Join(dir, "repo")
	for _, args := range [][]string{
		{"build-export", "--runtime", repo, rt, "master"},
		{"build-finish", app},
		{"build-export", repo, app, "master"},
		{"--user", "remote-add", "--no-gpg-verify", "test", "file://" + repo},
		{"--user", "install", "-y", "--noninteractive", "test", "org.test.Platform", "org.test.Other"},
	} {
		cmd := exec.Command("flatpak", args...)
		cmd.Env = append(os.Environ(), "FLATPAK_USER_DIR="+inst)
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", &buildError{"flatpak " + strings.Join(args, " "), err, string(out)}
		}
	}
	exec.Command("chmod", "-R", "a+rX", dir).Run()
	return inst, nil
})

// startUserRun starts bin (porthole or flatpak) with args as u, for the
// installation inst, with home and the runtime directory xdg; out gets
// what it prints.
func startUserRun(t *testing.T, u testenv.User, inst, home, xdg, bin string, args ...string) (*exec.Cmd, *strings.Builder) {
	t.Helper()
	cmd := u.Command(t, bin, args...)
	cmd.Env = testenv.WithEnv(cmd.Env, "HOME="+home, "XDG_RUNTIME_DIR="+xdg, "FLATPAK_USER_DIR="+inst, "PORTHOLE_USER_DIR="+inst,
		"PORTHOLE_SYSTEM_DIR="+filepath.Join(home, "no-system"), "DBUS_SESSION_BUS_ADDRESS", "DISPLAY", "WAYLAND_DISPLAY", "XAUTHORITY")
	cmd.Dir = home
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, out
}

// TestRunPerAppDevShm runs two instances at once, each putting a file in
// /dev/shm and waiting for the other's: with --allow=per-app-dev-shm
// every instance of the app binds the one /dev/shm/flatpak-ID-* directory
// the per-app link names (so porthole and flatpak instances meet too),
// another app does not see it, and without the feature each instance has
// its own /dev/shm.
func TestRunPerAppDevShm(t *testing.T) {
	b := needRunBins(t)
	f := needRunFixture(t)
	tool, err := buildShmTool()
	if err != nil {
		t.Fatal(err)
	}
	otherInst, err := buildOtherApp()
	if err != nil {
		t.Fatal(err)
	}
	testenv.ForEachUser(t, func(t *testing.T, u testenv.User) {
		home := testenv.SharedTempDir(t, u)
		rt := testenv.RuntimeDir(t, u)
		t.Cleanup(func() {
			// The shared directories live in the host's /dev/shm.
			for _, app := range []string{"org.test.Probe", "org.test.Other"} {
				if d, err := os.Readlink(filepath.Join(rt, ".flatpak", app, "dev-shm")); err == nil && strings.HasPrefix(d, "/dev/shm/flatpak-") {
					os.RemoveAll(d)
				}
			}
		})
		// run starts one instance of tool with args and returns its wait.
		run := func(bin string, app string, extra []string, args ...string) func() (string, error) {
			a, inst := []string{"run", "--user"}, otherInst
			if app == "org.test.Probe" {
				a, inst = append(a, "--filesystem="+tool+":ro", "--command="+tool+"/shmtool"), f.inst
			}
			a = append(append(append(a, extra...), app), args...)
			cmd, out := startUserRun(t, u, inst, home, rt, bin, a...)
			return func() (string, error) { err := cmd.Wait(); return out.String(), err }
		}
		pair := func(name string, first, second string, extra ...string) {
			t.Helper()
			extra = append([]string{"--allow=per-app-dev-shm"}, extra...)
			waitA := run(first, "org.test.Probe", extra, "put", name+"-a", "wait", name+"-b", "ls")
			// The second starts once the first has put its file: two
			// first instances starting at once may each make a directory
			// (Flatpak's own runs race so too).
			mark := filepath.Join(rt, ".flatpak", "org.test.Probe", "dev-shm", name+"-a")
			for n := 0; ; n++ {
				if _, err := os.Stat(mark); err == nil {
					break
				}
				if n > 1200 {
					out, err := waitA()
					t.Fatalf("%s: no %s from the first instance: %v\n%s", name, mark, err, out)
				}
				time.Sleep(50 * time.Millisecond)
			}
			waitB := run(second, "org.test.Probe", extra, "put", name+"-b", "wait", name+"-a", "ls")
			for i, w := range []func() (string, error){waitA, waitB} {
				if out, err := w(); err != nil {
					t.Errorf("%s: instance %d: %v\n%s", name, i, err, out)
				} else if !strings.Contains(out, name+"-a "+name+"-b") {
					t.Errorf("%s: instance %d sees %s, want both files", name, i, out)
				}
			}
		}
		// Both tools, each with itself and with the other.
		pair("pp", b.porthole, b.porthole)
		pair("ff", "flatpak", "flatpak")
		pair("pf", b.porthole, "flatpak")
		pair("fp", "flatpak", b.porthole)
		// Under --device=all too (the host's /dev with the app's shm).
		pair("pa", b.porthole, "flatpak", "--device=all")

		// The link and its directory, as Flatpak makes them.
		link := filepath.Join(rt, ".flatpak", "org.test.Probe", "dev-shm")
		d, err := os.Readlink(link)
		if err != nil || !strings.HasPrefix(d, "/dev/shm/flatpak-org.test.Probe-") {
			t.Fatalf("%s -> %q (%v)", link, d, err)
		}
		fi, err := os.Stat(d)
		if err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v %v, want mode 0700", d, fi.Mode(), err)
		}
		if _, err := os.Stat(filepath.Join(d, ".flatpak-tmpdir")); err != nil {
			t.Error(err)
		}
		// Once no instance runs, a new one finds a fresh directory: the
		// old one is collected.
		if out, err := run(b.porthole, "org.test.Probe", []string{"--allow=per-app-dev-shm"}, "ls")(); err != nil || strings.TrimSpace(out) != "shm=[.flatpak-tmpdir]" {
			t.Errorf("after the last instance: %v %s, want shm=[.flatpak-tmpdir]", err, out)
		}
		if _, err := os.Lstat(d); !os.IsNotExist(err) {
			t.Errorf("%s left after the last instance: %v", d, err)
		}

		hostMark, err := os.CreateTemp("/dev/shm", "porthole-devshm-test-")
		if err != nil {
			t.Fatal(err)
		}
		hostMark.Close()
		defer os.Remove(hostMark.Name())
		// Another app has its own directory (holding only the flag);
		// without the feature, and with --sandbox, an instance has a
		// fresh /dev/shm.
		for _, c := range []struct {
			app   string
			extra []string
			want  string
		}{
			{"org.test.Other", []string{"--allow=per-app-dev-shm"}, "shm=[.flatpak-tmpdir]"},
			{"org.test.Probe", nil, "shm=[]"},
			{"org.test.Probe", []string{"--device=all"}, "shm=[]"},
			{"org.test.Probe", []string{"--allow=per-app-dev-shm", "--sandbox"}, "shm=[]"},
			// --device=shm wins: the host's /dev/shm.
			{"org.test.Probe", []string{"--allow=per-app-dev-shm", "--device=shm"}, filepath.Base(hostMark.Name())},
		} {
			for _, bin := range []string{"flatpak", b.porthole} {
				out, err := run(bin, c.app, c.extra, "ls")()
				if err != nil {
					t.Fatalf("%s %s %v: %v\n%s", bin, c.app, c.extra, err, out)
				}
				if got := strings.TrimSpace(out); got != c.want && !(c.want == filepath.Base(hostMark.Name()) && strings.Contains(got, c.want)) {
					t.Errorf("%s %s %v: sees %s, want %s", filepath.Base(bin), c.app, c.extra, out, c.want)
				}
			}
		}
	})
}
