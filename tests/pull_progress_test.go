package tests

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/porthole-dev/porthole/internal/testenv"
)

// TestPullProgressOnlyOnTerminal: `porthole store pull` draws its progress
// line when stderr is a terminal (run under script(1)'s pty) and prints
// nothing on stderr when piped.
func TestPullProgressOnlyOnTerminal(t *testing.T) {
	testenv.RequireCommand(t, "script")
	served := spCopyVector(t, "archive-repo")
	srv := spServe(t, served)
	for _, tty := range []bool{false, true} {
		local := filepath.Join(t.TempDir(), "local")
		spPorthole(t, "init", "--repo="+local, "--mode=archive")
		spPorthole(t, "remote", "add", "--repo="+local, "--no-gpg-verify", "origin", srv.URL)
		args := []string{spBin(t), "store", "pull", "--repo=" + local, "origin", "test"}
		var cmd *exec.Cmd
		if tty {
			cmd = exec.Command("script", "-qfec", strings.Join(args, " "), "/dev/null")
		} else {
			cmd = exec.Command(args[0], args[1:]...)
		}
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("tty=%v: %v\n%s%s", tty, err, stdout.String(), stderr.String())
		}
		all := stdout.String() + stderr.String()
		if tty && !strings.Contains(all, "Receiving objects:") {
			t.Errorf("no progress on a terminal: %q", all)
		}
		if !tty && (stderr.Len() != 0 || strings.Contains(all, "Receiving objects:")) {
			t.Errorf("progress or noise when piped: stdout %q stderr %q", stdout.String(), stderr.String())
		}
	}
}
