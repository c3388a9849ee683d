package launcher

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/porthole-dev/porthole/internal/testenv"
)

// Bind sources are resolved in the host's root: an absolute symlink on
// the way is followed as on the host, a link to a file binds the file,
// and the mounts below a directory reached through a link get the bind's
// flags too.
func TestBindThroughSymlinks(t *testing.T) {
	testenv.RequireUserNS(t)
	dir := t.TempDir()
	if err := os.Symlink("/dev", filepath.Join(dir, "devlink")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "file"), []byte("content\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "file"), filepath.Join(dir, "filelink")); err != nil {
		t.Fatal(err)
	}
	// A relative link with "..", as /etc/os-release usually is: with
	// RESOLVE_IN_ROOT, ".." makes openat2 fail with EAGAIN when a mount
	// runs meanwhile (and the mounts are made while sources are opened).
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	if err := os.Symlink("../file", filepath.Join(dir, "sub", "rel")); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	script := `cat /x/file /x/rel
test -c /hostdev/null && echo dev-ok
grep -E ' /hostdev/(pts|shm) ' /proc/self/mountinfo | cut -d' ' -f5,6 | sort -u`
	s := hostSpec(os.Getuid(), os.Getgid(), "sh", "-c", script)
	s.Mounts = append(s.Mounts,
		Mount{Type: ROBind, Source: filepath.Join(dir, "filelink"), Dest: "/x/file"},
		Mount{Type: ROBind, Source: filepath.Join(dir, "sub", "rel"), Dest: "/x/rel"},
		Mount{Type: ROBind, Source: filepath.Join(dir, "devlink"), Dest: "/hostdev"})
	out, code := run(t, s)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if !strings.HasPrefix(out, "content\ncontent\ndev-ok\n") {
		t.Errorf("output:\n%s", out)
	}
	// Of mounts stacked on one path (the host may have two devpts on
	// /dev/pts), only the top one changes, as with bwrap.
	rest := strings.TrimPrefix(out, "content\ncontent\ndev-ok\n")
	for _, p := range []string{"/hostdev/pts", "/hostdev/shm"} {
		if !strings.Contains(rest, p+" ") {
			continue
		}
		found := false
		for _, l := range strings.Split(rest, "\n") {
			if strings.HasPrefix(l, p+" ro,") && strings.Contains(l, "nosuid") {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no read-only nosuid mount:\n%s", p, rest)
		}
	}
}
