package tests

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/porthole-dev/porthole/internal/testenv"
)

// TestDocumentPortalCrashAndRestart kills the portal while an app writes a
// new version of a document through a temporary file (the original stays
// intact), then restarts it: persistent documents and their grants come
// back from the permission store, after a crash and after a clean exit.
func TestDocumentPortalCrashAndRestart(t *testing.T) {
	testenv.ForEachUser(t, func(t *testing.T, u testenv.User) {
		e := docpSetup(t, u)
		p := e.file(t, "doc.txt", "ORIGINAL")
		r := e.run(t, nil, docpOp{Op: "addfull", Path: p, Flags: 1 | 2, App: "org.example.A", Perms: []string{"read", "write"}})
		id := r[0].Out
		if id == "" {
			t.Fatalf("AddFull = %+v", r[0])
		}
		view := filepath.Join(e.mount, "by-app", "org.example.A", id)

		// The app starts saving: half of the new content is in the
		// temporary file when the portal dies.
		self, err := docpSelf()
		if err != nil {
			t.Fatal(err)
		}
		ops, _ := json.Marshal([]docpOp{{Op: "half-write-then-hang", Path: filepath.Join(view, ".doc.txt.new"), Path2: filepath.Join(view, "doc.txt"), Data: strings.Repeat("NEW CONTENT ", 1000)}})
		cmd := exec.Command(self, "-test.run=^TestDocumentPortalHelper$")
		testenv.AsUser(cmd, u.UID, u.GID)
		cmd.Env = append(e.env(), "DOCP_HELPER="+string(ops))
		stdin, _ := cmd.StdinPipe()
		stdout, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Process.Kill()
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		if !strings.Contains(line, `"errno":0`) {
			t.Fatalf("writing the temporary file: %q", line)
		}
		e.portal.cmd.Process.Kill()
		<-e.portal.done
		stdin.Close() // the app goes on: rename onto the document
		waited := make(chan error, 1)
		go func() { waited <- cmd.Wait() }()
		select {
		case <-waited:
		case <-time.After(10 * time.Second):
			t.Error("app blocked on the dead mount")
		}
		if b, err := os.ReadFile(p); err != nil || string(b) != "ORIGINAL" {
			t.Errorf("real file after the crash = %q, %v, want ORIGINAL", b, err)
		}

		// Restart over the stale mount: the document and the grant are
		// back.
		e.startPortal(t)
		r = e.run(t, nil,
			docpOp{Op: "read", Path: filepath.Join(view, "doc.txt")},
			docpOp{Op: "info", ID: id},
			docpOp{Op: "grant", ID: id, App: "org.example.B", Perms: []string{"read"}},
		)
		if r[0].Errno != 0 || r[0].Out != "ORIGINAL" {
			t.Errorf("after restart, app A reads %+v", r[0])
		}
		if r[1].Out != p+" org.example.A=read,write" {
			t.Errorf("after restart, Info = %+v", r[1])
		}
		if code := e.stopPortal(t); code != 0 {
			t.Errorf("exit status on SIGHUP = %d, want 0", code)
		}
		e.startPortal(t)
		r = e.run(t, nil,
			docpOp{Op: "read", Path: filepath.Join(e.mount, "by-app", "org.example.B", id, "doc.txt")},
			docpOp{Op: "write", Path: filepath.Join(e.mount, "by-app", "org.example.B", id, "doc.txt"), Data: "x"},
		)
		if r[0].Errno != 0 || r[0].Out != "ORIGINAL" {
			t.Errorf("after a clean restart, app B reads %+v", r[0])
		}
		if r[1].Errno != int(syscall.EACCES) {
			t.Errorf("app B writes without write: %+v, want EACCES", r[1])
		}
	})
}
