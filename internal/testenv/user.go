package testenv

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// The dedicated unprivileged test account. make deps and CI create it with
//
//	groupadd -g 4242 porthole-test
//	useradd -u 4242 -g 4242 -m -d /home/porthole-test -s /bin/sh porthole-test
const (
	TestUserName = "porthole-test"
	TestUID      = 4242
	TestGID      = 4242
	TestHome     = "/home/porthole-test"
)

// User is an account a test step runs as. The test body itself keeps the
// test process's credentials; only commands prepared with Command or AsUser
// switch to the user.
type User struct {
	Name     string
	UID, GID int
	Home     string
}

// IsRoot reports whether u is uid 0.
func (u User) IsRoot() bool { return u.UID == 0 }

// Root returns the root account.
func Root() User { return User{Name: "root", UID: 0, GID: 0, Home: homeOf(0, "/root")} }

// Current returns the account the test process runs as.
func Current() User {
	uid, gid := os.Getuid(), os.Getgid()
	name := strconv.Itoa(uid)
	if u, err := user.LookupId(name); err == nil {
		name = u.Username
	}
	return User{Name: name, UID: uid, GID: gid, Home: homeOf(uid, os.Getenv("HOME"))}
}

// Unprivileged returns the account for unprivileged steps: the test user
// porthole-test when the tests run as root (Require-ing that it exists),
// otherwise the current account, which is already unprivileged.
func Unprivileged(t testing.TB) User {
	t.Helper()
	if !IsRoot() {
		return Current()
	}
	u, err := user.Lookup(TestUserName)
	Require(t, err == nil, fmt.Sprintf("needs the test user %s (uid %d); create it with: "+
		"groupadd -g %d %s && useradd -u %d -g %d -m -d %s -s /bin/sh %s",
		TestUserName, TestUID, TestGID, TestUserName, TestUID, TestGID, TestHome, TestUserName))
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil || uid == 0 {
		t.Fatalf("test user %s has unusable ids uid=%q gid=%q", TestUserName, u.Uid, u.Gid)
	}
	return User{Name: u.Username, UID: uid, GID: gid, Home: u.HomeDir}
}

// UnprivilegedUser is Unprivileged returning the fields separately.
func UnprivilegedUser(t testing.TB) (uid, gid int, home string) {
	t.Helper()
	u := Unprivileged(t)
	return u.UID, u.GID, u.Home
}

// ForEachUser runs f in two subtests: "root", which Requires that the tests
// run as root, and "user", with the unprivileged account (see Unprivileged).
// f starts its processes with u.Command or AsUser to get u's credentials.
func ForEachUser(t *testing.T, f func(t *testing.T, u User)) {
	t.Helper()
	t.Run("root", func(t *testing.T) {
		Require(t, IsRoot(), "needs root")
		f(t, Root())
	})
	t.Run("user", func(t *testing.T) {
		f(t, Unprivileged(t))
	})
}

// RequireRoot Requires that the tests run as root.
func RequireRoot(t testing.TB) {
	t.Helper()
	Require(t, IsRoot(), "needs root")
}

// RequireUserNS Requires that unprivileged user namespaces work.
func RequireUserNS(t testing.TB) {
	t.Helper()
	Require(t, HaveUserNS(), "needs unprivileged user namespaces")
}

// RequireFUSE Requires a usable /dev/fuse and fusermount3.
func RequireFUSE(t testing.TB) {
	t.Helper()
	Require(t, HaveFUSE(), "needs /dev/fuse and fusermount3")
}

// RequireCommand Requires that name is in PATH.
func RequireCommand(t testing.TB, name string) {
	t.Helper()
	Require(t, HaveCommand(name), "needs the command "+name)
}

// AsUser prepares cmd to run with uid and gid and no supplementary groups,
// with HOME, USER, LOGNAME and XDG_RUNTIME_DIR set for that account. The
// runtime dir is a per-uid directory under os.TempDir() (mode 0700, owned by
// uid) that outlives the test, like /run/user/UID; use User.Command for a
// fresh per-test one. If the runtime dir cannot be prepared, cmd.Start
// returns the error. When the process is not root and uid is its own, the
// credentials are left alone, since setgroups would be refused.
func AsUser(cmd *exec.Cmd, uid, gid int) {
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("porthole-runtime-%d", uid))
	if err := ensureRuntimeDir(dir, uid, gid); err != nil && cmd.Err == nil {
		cmd.Err = err
	}
	asUser(cmd, uid, gid, dir)
}

// Command returns exec.Command(name, args...) prepared to run as u, with a
// fresh XDG_RUNTIME_DIR owned by u (mode 0700) that is removed when t ends.
func (u User) Command(t testing.TB, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(name, args...)
	u.Apply(t, cmd)
	return cmd
}

// Apply prepares an existing cmd like Command does.
func (u User) Apply(t testing.TB, cmd *exec.Cmd) {
	t.Helper()
	asUser(cmd, u.UID, u.GID, RuntimeDir(t, u))
}

// RuntimeDir returns a fresh directory for XDG_RUNTIME_DIR, owned by u with
// mode 0700, removed when t ends. Its path is short, so sockets fit in it.
func RuntimeDir(t testing.TB, u User) string {
	t.Helper()
	dir := SharedTempDir(t, u)
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

func asUser(cmd *exec.Cmd, uid, gid int, runtimeDir string) {
	if IsRoot() || uid != os.Getuid() || gid != os.Getgid() {
		if cmd.SysProcAttr == nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{}
		}
		cmd.SysProcAttr.Credential = &syscall.Credential{
			Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{},
		}
	}
	name := strconv.Itoa(uid)
	if u, err := user.LookupId(name); err == nil {
		name = u.Username
	}
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	env = WithEnv(env,
		"HOME="+homeOf(uid, "/"),
		"USER="+name,
		"LOGNAME="+name,
		"XDG_RUNTIME_DIR="+runtimeDir,
	)
	cmd.Env = env
}

// WithEnv returns env with each KEY=VALUE of set replacing any earlier
// entry for KEY (or added at the end). A bare KEY in set removes KEY.
func WithEnv(env []string, set ...string) []string {
	drop := map[string]bool{}
	for _, kv := range set {
		k, _, _ := strings.Cut(kv, "=")
		drop[k] = true
	}
	out := make([]string, 0, len(env)+len(set))
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if !drop[k] {
			out = append(out, kv)
		}
	}
	for _, kv := range set {
		if strings.Contains(kv, "=") {
			out = append(out, kv)
		}
	}
	return out
}

func homeOf(uid int, fallback string) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil && u.HomeDir != "" {
		return u.HomeDir
	}
	if fallback == "" {
		return "/"
	}
	return fallback
}

func ensureRuntimeDir(dir string, uid, gid int) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("creating runtime dir: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("creating runtime dir: %w", err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() {
		return fmt.Errorf("runtime dir %s is not a directory", dir)
	}
	if int(st.Uid) != uid || int(st.Gid) != gid {
		if err := os.Lchown(dir, uid, gid); err != nil {
			return fmt.Errorf("runtime dir %s is owned by %d, not %d: %w", dir, st.Uid, uid, err)
		}
	}
	if fi.Mode().Perm() != 0o700 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("runtime dir %s: %w", dir, err)
		}
	}
	return nil
}

// SharedTempDir returns a new directory (mode 0755) owned by u, outside the
// root-only t.TempDir() tree so that u can reach it, and removes it when t
// ends. The path is short (under os.TempDir()), so sockets fit in it.
func SharedTempDir(t testing.TB, u User) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "porthole-t")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeAll(t, dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if u.UID != os.Getuid() || u.GID != os.Getgid() {
		if err := os.Chown(dir, u.UID, u.GID); err != nil {
			t.Fatalf("SharedTempDir: %v", err)
		}
	}
	return dir
}

func removeAll(t testing.TB, dir string) {
	if err := os.RemoveAll(dir); err == nil {
		return
	}
	// Make read-only directories left by the test writable and try again.
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o700)
		}
		return nil
	})
	if err := os.RemoveAll(dir); err != nil {
		t.Errorf("removing %s: %v", dir, err)
	}
}
