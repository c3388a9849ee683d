package tests

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/porthole-dev/porthole/internal/testenv"
)

// probeArgs asks the probe about files that must be hidden or read-only.
func probeArgs(home, secretDir string) []string {
	return []string{
		"visible", "/etc/shadow", "/root/.bashrc", filepath.Join(secretDir, "secret"), filepath.Join(home, "secret"), "/usr/etc", "/app/bin/probe",
		"/run/host/etc/passwd", "/run/host/usr", "/run/host/os-release", "/run/host/container-manager", "/opt", "/srv", "/home", "/mnt",
		"/run/host/fonts", "/run/host/font-dirs.xml", "/run/flatpak/app", "/run/user", "/var/run", "/var/tmp", "/etc/machine-id", "/etc/timezone",
		"writable", "/usr", "/app", "/tmp",
		"writefile", "/.flatpak-info",
		"file", "/etc/ld.so.conf", "/etc/ld.so.cache", "/run/host/font-dirs.xml", "/etc/passwd", "/etc/group",
		"/etc/timezone", "/run/host/container-manager", "/etc/machine-id", "/run/host/os-release",
	}
}

func hostHasOtherInterfaces() bool {
	ifs, _ := net.Interfaces()
	return len(ifs) > 1
}

// TestRunContainment runs the probe in `porthole run` of an installed app
// and checks what it can see and do, as root and as an ordinary user.
func TestRunContainment(t *testing.T) {
	b := needRunBins(t)
	f := needRunFixture(t)
	testenv.ForEachUser(t, func(t *testing.T, u testenv.User) {
		home := testenv.SharedTempDir(t, u)
		secretDir := testenv.SharedTempDir(t, u)
		for _, p := range []string{filepath.Join(home, "secret"), filepath.Join(secretDir, "secret")} {
			os.WriteFile(p, []byte("x"), 0o644)
		}
		modes := []struct {
			name string
			args []string
			want map[string]string
		}{
			{"default", nil, map[string]string{
				"ptrace": "EPERM", "perf_event_open": "EPERM", "personality-query": "EPERM",
				"socket-bluetooth": "EAFNOSUPPORT", "socket-can": "EAFNOSUPPORT", "only-loopback": "true",
			}},
			{"devel", []string{"--devel"}, map[string]string{
				"ptrace": "ESRCH", "perf_event_open": "EFAULT", "personality-query": "ok",
			}},
			{"bluetooth+canbus", []string{"--allow=bluetooth", "--allow=canbus"}, map[string]string{
				"socket-bluetooth": "EINVAL", "socket-can": "EINVAL", "socket-packet": "EAFNOSUPPORT",
			}},
		}
		if hostHasOtherInterfaces() {
			modes = append(modes, struct {
				name string
				args []string
				want map[string]string
			}{"network", []string{"--share=network"}, map[string]string{"only-loopback": "false"}})
		}
		common := map[string]string{
			"uid": strconv.Itoa(u.UID), "gid": strconv.Itoa(u.GID),
			"CapEff": "0000000000000000", "CapPrm": "0000000000000000", "CapBnd": "0000000000000000",
			"CapAmb": "0000000000000000", "CapInh": "0000000000000000", "NoNewPrivs": "1", "Seccomp": "2",
			"flatpak-info-name": "org.test.Probe", "procs-at-most-3": "true",
			"visible /etc/shadow": "no", "visible /root/.bashrc": "no",
			"visible " + filepath.Join(secretDir, "secret"): "no", "visible " + filepath.Join(home, "secret"): "no",
			"visible /usr/etc": "yes", "visible /app/bin/probe": "yes",
			"writable /usr": "EROFS", "writable /app": "EROFS", "writable /tmp": "ok",
			"writefile /.flatpak-info": "EROFS",
			"mount":                    "EPERM", "umount2": "EPERM", "pivot_root": "EPERM", "chroot": "EPERM",
			"unshare-user": "EPERM", "unshare-ns": "EPERM", "setns": "EPERM", "clone-newuser": "EPERM",
			"clone3": "ENOSYS", "open_tree": "ENOSYS", "fsopen": "ENOSYS", "keyctl": "EPERM",
			"ioctl-tiocsti": "EPERM", "ioctl-tiocsti-high": "EPERM", "ioctl-tioclinux": "EPERM",
			"ioctl-tiocnotty": "EBADF", "chmod": "EFAULT", "listen": "EBADF",
			"socket-unix": "EINVAL", "socket-inet": "EINVAL", "socket-inet6": "EINVAL", "socket-netlink": "EINVAL",
			"socket-packet": "EAFNOSUPPORT", "socket-alg": "EAFNOSUPPORT", "socket-vsock": "EAFNOSUPPORT", "socket-max": "EAFNOSUPPORT",
		}
		for _, m := range modes {
			args := append(append([]string{"run", "--user"}, m.args...), append([]string{"org.test.Probe"}, probeArgs(home, secretDir)...)...)
			out, err := runAs(t, u, home, f.inst, b.porthole, args...)
			if err != nil {
				t.Fatalf("%s: porthole %v: %v\n%s", m.name, args, err, out)
			}
			got := probeMap(out)
			for k, want := range common {
				if _, override := m.want[k]; override {
					continue
				}
				if got[k] != want {
					t.Errorf("%s: %s = %q, want %q", m.name, k, got[k], want)
				}
			}
			for k, want := range m.want {
				if got[k] != want {
					t.Errorf("%s: %s = %q, want %q", m.name, k, got[k], want)
				}
			}
		}
	})
}

// TestRunSameAsFlatpak runs the same probe under `flatpak run` and
// `porthole run` of the same installed app and runtime and requires
// identical answers, /.flatpak-info included. As root, Flatpak (bwrap without a user namespace)
// leaves the app root's capabilities while we drop them, so the
// capability lines are only compared for the ordinary user.
func TestRunSameAsFlatpak(t *testing.T) {
	b := needRunBins(t)
	f := needRunFixture(t)
	testenv.ForEachUser(t, func(t *testing.T, u testenv.User) {
		home := testenv.SharedTempDir(t, u)
		secretDir := testenv.SharedTempDir(t, u)
		os.WriteFile(filepath.Join(home, "secret"), []byte("x"), 0o644)
		for _, mode := range [][]string{nil, {"--devel"}, {"--allow=bluetooth", "--allow=canbus"}, {"--allow=multiarch"}, {"--share=network"}, {"--filesystem=" + secretDir + ":ro", "--env=FOO=bar", "--nosocket=x11"},
			{"--filesystem=host"}, {"--filesystem=home:ro", "--filesystem=host-os"}, {"--filesystem=host-etc", "--nofilesystem=" + secretDir}, {"--sandbox"},
			{"--device=all"}, {"--device=shm", "--device=kvm", "--device=dri"}, {"--share=ipc", "--unshare=ipc"}, {"--cwd=/app", "--persist=.mozilla", "--unset-env=LANG"}} {
			args := append(append([]string{"run", "--user"}, mode...), append([]string{"org.test.Probe", "info"}, probeArgs(home, secretDir)...)...)
			// Each tool generates its own ld.so.cache (same path and key).
			clearLdCache := func() {
				os.RemoveAll(filepath.Join(home, ".var", "app", "org.test.Probe", ".ld.so"))
				os.RemoveAll(filepath.Join(home, ".cache", "flatpak"))
			}
			clearLdCache()
			want, err := runAs(t, u, home, f.inst, "flatpak", args...)
			if err != nil {
				t.Fatalf("flatpak %v: %v\n%s", args, err, want)
			}
			clearLdCache()
			got, err := runAs(t, u, home, f.inst, b.porthole, args...)
			if err != nil {
				t.Fatalf("porthole %v: %v\n%s", args, err, got)
			}
			if u.IsRoot() {
				want, got = dropCaps(want), dropCaps(got)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%v: probe output differs (-flatpak +porthole):\n%s", mode, diff)
			}
		}
	})
}

func dropCaps(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(l, "Cap") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestRunX11SameAsFlatpak exposes a (fake) X11 display with an
// Xauthority file holding entries for several displays and hosts: the
// socket, DISPLAY and the filtered /run/flatpak/Xauthority must be the
// ones flatpak gives.
func TestRunX11SameAsFlatpak(t *testing.T) {
	b := needRunBins(t)
	f := needRunFixture(t)
	const display = "97"
	sock := "/tmp/.X11-unix/X" + display
	os.MkdirAll("/tmp/.X11-unix", 0o1777)
	os.Remove(sock)
	l, err := net.Listen("unix", sock)
	testenv.Require(t, err == nil, fmt.Sprintf("needs to create the X11 socket %s: %v", sock, err))
	defer l.Close()
	// Refuse every client: with DISPLAY set and no session bus, GLib in
	// flatpak tries to autolaunch a bus through the X server.
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	os.Chmod(sock, 0o777)
	host, _ := os.Hostname()
	rec := func(fam uint16, addr, num, data string) []byte {
		var out []byte
		out = append(out, byte(fam>>8), byte(fam))
		for _, s := range []string{addr, num, "MIT-MAGIC-COOKIE-1", data} {
			out = append(out, byte(len(s)>>8), byte(len(s)))
			out = append(out, s...)
		}
		return out
	}
	var xauth []byte
	xauth = append(xauth, rec(256, host, display, "0123456789abcdef")...)
	xauth = append(xauth, rec(256, host, "0", "other-display---")...)
	xauth = append(xauth, rec(256, "elsewhere", display, "other-host------")...)
	xauth = append(xauth, rec(0, "\x7f\x00\x00\x01", display, "tcp-------------")...)
	testenv.ForEachUser(t, func(t *testing.T, u testenv.User) {
		home := testenv.SharedTempDir(t, u)
		xa := filepath.Join(home, "xauth")
		os.WriteFile(xa, xauth, 0o644)
		env := []string{"DISPLAY=:" + display, "XAUTHORITY=" + xa}
		for _, mode := range [][]string{{"--socket=x11"}, {"--socket=fallback-x11"}, {"--nosocket=x11"}} {
			args := append(append([]string{"run", "--user"}, mode...), "org.test.Probe", "visible", sock, "file", "/run/flatpak/Xauthority")
			want, err := runAsEnv(t, u, home, f.inst, env, "flatpak", args...)
			if err != nil {
				t.Fatalf("flatpak %v: %v\n%s", args, err, want)
			}
			got, err := runAsEnv(t, u, home, f.inst, env, b.porthole, args...)
			if err != nil {
				t.Fatalf("porthole %v: %v\n%s", args, err, got)
			}
			if u.IsRoot() {
				want, got = dropCaps(want), dropCaps(got)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%v: probe output differs (-flatpak +porthole):\n%s", mode, diff)
			}
		}
	})
}

// TestRunInitConfined checks that the sandbox's pid 1 ends up as
// confined as the command: every thread without capabilities, with
// no_new_privs and the filter (the threads other than the spawner are
// emptied a few milliseconds after the command starts, so the script
// waits for that, up to a few seconds).
func TestRunInitConfined(t *testing.T) {
	b := needRunBins(t)
	script := `keys='^(CapInh|CapPrm|CapEff|CapAmb|NoNewPrivs|Seccomp):'
for i in $(seq 300); do
	if ! grep -hE "$keys" /proc/1/task/*/status | grep -qvE '0000000000000000|NoNewPrivs:.1|Seccomp:.2'; then break; fi
	sleep 0.01
done
grep -hE "$keys" /proc/1/task/*/status | tr -d '\t' | sort | uniq -c | sed 's/^ *[0-9]* //'`
	testenv.ForEachUser(t, func(t *testing.T, u testenv.User) {
		home := testenv.SharedTempDir(t, u)
		out, err := runAs(t, u, home, filepath.Join(home, "inst"), b.porthole, "run", "--app-path=/usr/share", "--usr-path=/usr", "--command=sh", "org.test.Shell", "-c", script)
		if err != nil {
			t.Fatalf("porthole run: %v\n%s", err, out)
		}
		want := "CapAmb:0000000000000000\nCapEff:0000000000000000\nCapInh:0000000000000000\nCapPrm:0000000000000000\nNoNewPrivs:1\nSeccomp:2\n"
		if out != want {
			t.Errorf("pid 1's threads:\n%s\nwant every one:\n%s", out, want)
		}
	})
}
