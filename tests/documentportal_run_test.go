package tests

import (
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/porthole-dev/porthole/internal/testenv"
)

// docpApps are the two apps of the document portal's `porthole run`
// fixture: the same static probe under two ids.
var docpApps = [2]string{"org.test.Probe", "org.test.Other"}

// docpRunFixture is a Flatpak installation (made by the real flatpak, as
// the run tests' fixture) with a tiny runtime and both docpApps.
var docpRunFixture = sync.OnceValues(func() (string, error) {
	b, err := buildRunBins()
	if err != nil {
		return "", err
	}
	probe, err := os.ReadFile(b.probe)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(append(probe, "docp-1"...))
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("porthole-docp-fixture-%x", sum[:6]))
	inst := filepath.Join(dir, "inst")
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err == nil {
		return inst, nil
	}
	os.RemoveAll(dir)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return "", err
	}
	rt, repo := filepath.Join(dir, "rt"), filepath.Join(dir, "repo")
	os.MkdirAll(rt+"/files", 0o755)
	os.MkdirAll(rt+"/usr/bin", 0o755)
	if ldconfig, err := os.ReadFile("/usr/sbin/ldconfig"); err == nil {
		os.WriteFile(rt+"/usr/bin/ldconfig", ldconfig, 0o755)
	}
	os.WriteFile(rt+"/metadata", []byte("[Runtime]\nname=org.test.Platform\nruntime=org.test.Platform/x86_64/master\nsdk=org.test.Platform/x86_64/master\n"), 0o644)
	steps := [][]string{{"build-export", "--runtime", repo, rt, "master"}}
	for _, id := range docpApps {
		app := filepath.Join(dir, id)
		os.MkdirAll(app+"/files/bin", 0o755)
		os.MkdirAll(app+"/var", 0o755)
		os.WriteFile(app+"/files/bin/probe", probe, 0o755)
		os.WriteFile(app+"/metadata", []byte("[Application]\nname="+id+"\nruntime=org.test.Platform/x86_64/master\nsdk=org.test.Platform/x86_64/master\ncommand=probe\n"), 0o644)
		steps = append(steps, []string{"build-finish", app}, []string{"build-export", repo, app, "master"})
	}
	steps = append(steps,
		[]string{"--user", "remote-add", "--no-gpg-verify", "test", "file://" + repo},
		append([]string{"--user", "install", "-y", "--noninteractive", "test", "org.test.Platform"}, docpApps[:]...))
	for _, args := range steps {
		cmd := exec.Command("flatpak", args...)
		cmd.Env = append(os.Environ(), "FLATPAK_USER_DIR="+inst)
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", &buildError{"flatpak " + strings.Join(args, " "), err, string(out)}
		}
	}
	exec.Command("chmod", "-R", "a+rX", dir).Run()
	os.WriteFile(filepath.Join(dir, ".complete"), nil, 0o644)
	return inst, nil
})

// TestDocumentPortalPortholeRun runs both apps in `porthole run` sandboxes
// of one session: each reads the document granted to it through the
// document portal's mount in its sandbox, and cannot see, stat or read the
// other app's document even knowing its id. Where the sandbox shows the
// mount is found from inside (/run/flatpak/doc or /run/user/UID/doc).
func TestDocumentPortalPortholeRun(t *testing.T) {
	testenv.ForEachUser(t, func(t *testing.T, u testenv.User) {
		b := needRunBins(t)
		testenv.RequireCommand(t, "flatpak")
		inst, err := docpRunFixture()
		if err != nil {
			t.Fatal(err)
		}
		e := docpSetup(t, u)
		content := [2]string{"for the probe", "for the other app"}
		var ids [2]string
		for i, app := range docpApps {
			p := e.file(t, fmt.Sprintf("doc%d.txt", i), content[i])
			r := e.run(t, nil, docpOp{Op: "addfull", Path: p, Flags: 1, App: app, Perms: []string{"read"}})
			if ids[i] = r[0].Out; ids[i] == "" {
				t.Fatalf("AddFull for %s = %+v", app, r[0])
			}
		}
		roots := []string{"/run/flatpak/doc", fmt.Sprintf("/run/user/%d/doc", u.UID)}
		home := testenv.SharedTempDir(t, u)
		for i, app := range docpApps {
			mine, other := i, 1-i
			args := []string{"run", "--user", app, "file"}
			for _, root := range roots {
				for _, k := range []int{mine, other} {
					args = append(args, fmt.Sprintf("%s/%s/doc%d.txt", root, ids[k], k))
				}
			}
			args = append(args, "visible")
			for _, root := range roots {
				args = append(args, root+"/"+ids[mine], root+"/"+ids[other])
			}
			out, err := runAsEnv(t, u, home, inst, []string{"XDG_RUNTIME_DIR=" + e.runtime, e.bus.Env()}, b.porthole, args...)
			if err != nil {
				t.Fatalf("porthole run %s: %v\n%s", app, err, out)
			}
			got := probeMap(out)
			want := fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(content[mine])))
			found := 0
			for _, root := range roots {
				own := fmt.Sprintf("file %s/%s/doc%d.txt", root, ids[mine], mine)
				if got[own] == want && got["visible "+root+"/"+ids[mine]] == "yes" {
					found++
				}
				theirs := fmt.Sprintf("file %s/%s/doc%d.txt", root, ids[other], other)
				if got[theirs] != "ENOENT" {
					t.Errorf("%s reads %s's document at %s: %q, want ENOENT", app, docpApps[other], root, got[theirs])
				}
				if v := got["visible "+root+"/"+ids[other]]; v != "no" {
					t.Errorf("%s sees %s's document at %s: %q, want no", app, docpApps[other], root, v)
				}
			}
			if found == 0 {
				t.Errorf("%s reads its document nowhere (%v):\n%s", app, roots, out)
			}
		}
	})
}
