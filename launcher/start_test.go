package launcher

import (
	"context"
	"os"
	"testing"

	"github.com/porthole-dev/porthole/internal/testenv"
)

// OnFork gets pid 1's host pid before the command runs.
func TestOnFork(t *testing.T) {
	testenv.RequireUserNS(t)
	forked := 0
	p, err := Start(context.Background(), hostSpec(os.Getuid(), os.Getgid(), "true"), Options{InitPath: os.Args[0], OnFork: func(pid int) { forked = pid }})
	if err != nil {
		t.Fatal(err)
	}
	if forked == 0 || forked != p.Pid {
		t.Errorf("OnFork got pid %d, want %d", forked, p.Pid)
	}
	if code, err := p.Wait(); code != 0 || err != nil {
		t.Errorf("Wait() = %d, %v", code, err)
	}
}
