package testenv

import (
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
)

// InCI reports whether the tests run under CI (CI=true), where unmet
// preconditions are failures rather than skips.
func InCI() bool { return os.Getenv("CI") == "true" }

// Require stops t when ok is false: with CI=true it fails the test, elsewhere
// it skips it. why says what is missing, e.g. "needs /dev/fuse".
func Require(t testing.TB, ok bool, why string) {
	t.Helper()
	if ok {
		return
	}
	if InCI() {
		t.Fatalf("requirement not met in CI: %s", why)
		return
	}
	t.Skipf("skipping: %s", why)
}

// IsRoot reports whether the test process runs with effective uid 0.
func IsRoot() bool { return os.Geteuid() == 0 }

// HaveCommand reports whether name is found in PATH (as exec.LookPath).
func HaveCommand(name string) bool {
	_, err := exec.LookPath(name)
	return err == nil
}

// HaveDBusDaemon reports whether dbus-daemon can be run.
func HaveDBusDaemon() bool { return HaveCommand("dbus-daemon") }

// HaveFUSE reports whether /dev/fuse can be opened read-write by this
// process and fusermount3 is installed.
func HaveFUSE() bool { return haveFUSE() }

var haveFUSE = sync.OnceValue(func() bool {
	f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
	if err != nil {
		return false
	}
	f.Close()
	return HaveCommand("fusermount3")
})

// HaveUserNS reports whether an unprivileged process can create a user
// namespace. When the tests run as root the probe runs unshare(1) as the
// nobody uid, since root can always create one and that proves nothing
// about the unprivileged case.
func HaveUserNS() bool { return haveUserNS() }

var haveUserNS = sync.OnceValue(func() bool {
	if IsRoot() {
		unshare, err := exec.LookPath("unshare")
		if err != nil {
			return false
		}
		cmd := exec.Command(unshare, "--user", "true")
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Credential: &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{}},
		}
		return cmd.Run() == nil
	}
	tru, err := exec.LookPath("true")
	if err != nil {
		return false
	}
	cmd := exec.Command(tru)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER}
	return cmd.Run() == nil
})
