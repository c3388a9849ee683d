// Command run_probe reports what a sandboxed process can see and do, one
// "key=value" line per check, sorted, so that the outputs of two sandbox
// implementations can be compared line by line.
//
// Usage: run_probe [visible PATH…] [writable DIR…] [writefile FILE…] [file FILE…] [info] [dbus] [sysdbus] [a11y]
package main

import (
	"io"

	"crypto/sha256"
	"errors"
	"fmt"
	"github.com/godbus/dbus/v5"
	"net"
	"os"
	"sort"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

var out []string

func put(k, v string) { out = append(out, k+"="+v) }

func errname(err error) string {
	if err == nil {
		return "ok"
	}
	var en syscall.Errno
	if errors.As(err, &en) {
		return unix.ErrnoName(en)
	}
	return "error"
}

func sys(trap uintptr, a ...uintptr) string {
	var args [6]uintptr
	copy(args[:], a)
	_, _, e := unix.Syscall6(trap, args[0], args[1], args[2], args[3], args[4], args[5])
	if e != 0 {
		return unix.ErrnoName(e)
	}
	return "ok"
}

func probeDBus() {
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		fmt.Println("dbus-error=" + err.Error())
		return
	}
	defer conn.Close()
	shown, hidden, err := busView(conn)
	if err != nil {
		fmt.Println("dbus-error=" + err.Error())
		return
	}
	var pid uint32
	conn.BusObject().Call("org.freedesktop.DBus.GetConnectionUnixProcessID", 0, conn.Names()[0]).Store(&pid)
	fmt.Printf("dbus-names=%s\ndbus-pid=%d\ndbus-call-hidden=%s\n", strings.Join(shown, ","), pid, hidden)
	io.Copy(io.Discard, os.Stdin)
}

// probeSystemDBus is probeDBus for DBUS_SYSTEM_BUS_ADDRESS, in the probe's
// sorted output and without waiting.
func probeSystemDBus() {
	conn, err := dbus.ConnectSystemBus()
	if err != nil {
		put("sysdbus-error", err.Error())
		return
	}
	defer conn.Close()
	shown, hidden, err := busView(conn)
	if err != nil {
		put("sysdbus-error", err.Error())
		return
	}
	put("sysdbus-names", strings.Join(shown, ","))
	put("sysdbus-call-hidden", hidden)
}

// busView returns the well-known names conn sees, and how a call to
// org.test.Hidden is answered.
func busView(conn *dbus.Conn) (shown []string, hidden string, err error) {
	var names []string
	if err := conn.BusObject().Call("org.freedesktop.DBus.ListNames", 0).Store(&names); err != nil {
		return nil, "", err
	}
	for _, n := range names {
		if !strings.HasPrefix(n, ":") {
			shown = append(shown, n)
		}
	}
	sort.Strings(shown)
	call := conn.Object("org.test.Hidden", "/").Call("org.freedesktop.DBus.Peer.Ping", 0)
	hidden = "ok"
	if call.Err != nil {
		if e, ok := call.Err.(dbus.Error); ok {
			hidden = e.Name
		} else {
			hidden = call.Err.Error()
		}
	}
	return shown, hidden, nil
}

func probeA11y() {
	addr := os.Getenv("AT_SPI_BUS_ADDRESS")
	put("a11y-address", addr)
	conn, err := dbus.Connect(addr)
	if err != nil {
		put("a11y-connect", "error")
		return
	}
	defer conn.Close()
	put("a11y-connect", "ok")
	call := func(path dbus.ObjectPath, method string, args ...any) string {
		c := conn.Object("org.a11y.atspi.Registry", path).Call(method, 0, args...)
		if e, ok := c.Err.(dbus.Error); ok {
			return e.Name
		}
		if c.Err != nil {
			return "error"
		}
		var s string
		c.Store(&s)
		return "ok " + s
	}
	put("a11y-allowed", call("/org/a11y/atspi/registry", "org.a11y.atspi.Registry.GetRegisteredEvents"))
	put("a11y-filtered", call("/org/a11y/atspi/registry", "org.a11y.atspi.Registry.DeregisterEvent", "x"))
}

func main() {
	mode := ""
	for _, a := range os.Args[1:] {
		switch a {
		case "dbus":
			// Through the session bus the sandbox has: the names it can
			// see and the pid the bus sees for it, printed at once; then
			// wait for stdin to close, so the caller can inspect that pid.
			probeDBus()
			continue
		case "sysdbus":
			// The same through DBUS_SYSTEM_BUS_ADDRESS.
			probeSystemDBus()
			continue
		case "a11y":
			// Through AT_SPI_BUS_ADDRESS: an allowed and a filtered call
			// to the registry, and whether the bus is reachable at all.
			probeA11y()
			continue
		case "info":
			// Every line of /.flatpak-info but the random instance id.
			data, _ := os.ReadFile("/.flatpak-info")
			for i, l := range strings.Split(string(data), "\n") {
				if !strings.HasPrefix(l, "instance-id=") {
					put(fmt.Sprintf("info %03d", i), l)
				}
			}
			continue
		case "file":
			mode = "file"
			continue
		case "visible", "writable", "writefile":
			mode = a
			continue
		}
		switch mode {
		case "visible":
			_, err := os.Lstat(a)
			put("visible "+a, map[bool]string{true: "yes", false: "no"}[err == nil])
		case "writable":
			f, err := os.CreateTemp(a, ".probe")
			if err == nil {
				f.Close()
				os.Remove(f.Name())
			}
			put("writable "+a, errname(err))
		case "file":
			data, err := os.ReadFile(a)
			if err != nil {
				put("file "+a, errname(err))
				break
			}
			put("file "+a, fmt.Sprintf("sha256:%x", sha256.Sum256(data)))
		case "writefile":
			f, err := os.OpenFile(a, os.O_WRONLY, 0)
			if err == nil {
				f.Close()
			}
			put("writefile "+a, errname(err))
		}
	}

	// The environment, but for the variables naming each tool's own
	// installation.
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if k != "PORTHOLE_USER_DIR" && k != "PORTHOLE_SYSTEM_DIR" && k != "FLATPAK_USER_DIR" {
			put("env "+k, v)
		}
	}

	// Identity and privileges.
	put("uid", fmt.Sprint(os.Getuid()))
	put("gid", fmt.Sprint(os.Getgid()))
	if data, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			k, v, _ := strings.Cut(l, ":")
			switch k {
			case "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp":
				put(k, strings.TrimSpace(v))
			}
		}
	}
	if data, err := os.ReadFile("/.flatpak-info"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(l, "name="); ok {
				put("flatpak-info-name", v)
				break
			}
		}
	} else {
		put("flatpak-info-name", errname(err))
	}

	// The mount table: mount point, options and file system type (the
	// random instance id masked).
	if data, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			f := strings.Fields(l)
			if len(f) < 9 {
				continue
			}
			mp := f[4]
			if rest, ok := strings.CutPrefix(mp, "/run/flatpak/.flatpak/"); ok && rest != "" {
				mp = "/run/flatpak/.flatpak/IID"
			}
			sep := 6
			for sep < len(f) && f[sep] != "-" {
				sep++
			}
			if sep+1 < len(f) {
				put("mount "+mp, f[5]+" "+f[sep+1])
			}
		}
	}

	// Processes: only the sandbox's own.
	ents, _ := os.ReadDir("/proc")
	n := 0
	for _, e := range ents {
		if _, err := fmt.Sscan(e.Name(), new(int)); err == nil {
			n++
		}
	}
	put("procs-at-most-3", fmt.Sprint(n <= 3))

	// Network.
	ifs, _ := net.Interfaces()
	var names []string
	for _, i := range ifs {
		names = append(names, i.Name)
	}
	sort.Strings(names)
	put("only-loopback", fmt.Sprint(len(names) == 1 && names[0] == "lo"))

	// Syscalls: each gets arguments that make the kernel fail with a
	// distinctive errno, so a seccomp denial shows as EPERM/ENOSYS/….
	put("mount", sys(unix.SYS_MOUNT, 0, 0, 0, 0, 0))
	put("umount2", sys(unix.SYS_UMOUNT2, 0, 0))
	put("pivot_root", sys(unix.SYS_PIVOT_ROOT, 0, 0))
	put("chroot", sys(unix.SYS_CHROOT, 0))
	put("unshare-user", sys(unix.SYS_UNSHARE, unix.CLONE_NEWUSER|unix.CLONE_FS))
	put("unshare-ns", sys(unix.SYS_UNSHARE, unix.CLONE_NEWNS|unix.CLONE_FS|unix.CLONE_NEWUSER))
	put("setns", sys(unix.SYS_SETNS, ^uintptr(0), 0))
	put("clone-newuser", sys(unix.SYS_CLONE, unix.CLONE_NEWUSER|unix.CLONE_FS, 0, 0, 0, 0))
	put("clone3", sys(unix.SYS_CLONE3, 0, 0))
	put("open_tree", sys(unix.SYS_OPEN_TREE, ^uintptr(0), 0, 0))
	put("fsopen", sys(unix.SYS_FSOPEN, 0, 0))
	put("keyctl", sys(unix.SYS_KEYCTL, ^uintptr(0), 0, 0))
	put("add_key", sys(unix.SYS_ADD_KEY, 0, 0, 0, 0, 0))
	put("syslog", sys(unix.SYS_SYSLOG, ^uintptr(0), 0, 0))
	put("acct", sys(unix.SYS_ACCT, 1))
	put("quotactl", sys(unix.SYS_QUOTACTL, 0, 0, 0, 0))
	put("mbind", sys(unix.SYS_MBIND, 0, 0, 0, 0, 0, 0))
	put("set_mempolicy", sys(unix.SYS_SET_MEMPOLICY, ^uintptr(0), 0, 0))
	put("move_pages", sys(unix.SYS_MOVE_PAGES, 0, 1, 0, 0, 0, 0))
	put("modify_ldt", sys(unix.SYS_MODIFY_LDT, ^uintptr(0), 0, 0))
	put("ptrace", sys(unix.SYS_PTRACE, unix.PTRACE_PEEKDATA, ^uintptr(0), 0, 0))
	put("perf_event_open", sys(unix.SYS_PERF_EVENT_OPEN, 0, 0, ^uintptr(0), ^uintptr(0), 0))
	put("personality-query", sys(unix.SYS_PERSONALITY, 0xffffffff))
	put("personality-linux", sys(unix.SYS_PERSONALITY, 0))
	put("ioctl-tiocsti", sys(unix.SYS_IOCTL, ^uintptr(0), unix.TIOCSTI, 0))
	put("ioctl-tiocsti-high", sys(unix.SYS_IOCTL, ^uintptr(0), unix.TIOCSTI|1<<32, 0))
	put("ioctl-tioclinux", sys(unix.SYS_IOCTL, ^uintptr(0), unix.TIOCLINUX, 0))
	put("ioctl-tiocnotty", sys(unix.SYS_IOCTL, ^uintptr(0), unix.TIOCNOTTY, 0))
	put("chmod", sys(unix.SYS_CHMOD, 0, 0))
	put("listen", sys(unix.SYS_LISTEN, ^uintptr(0), 0))
	for _, f := range []struct {
		name string
		af   int
	}{{"unspec", unix.AF_UNSPEC}, {"unix", unix.AF_UNIX}, {"inet", unix.AF_INET}, {"inet6", unix.AF_INET6},
		{"netlink", unix.AF_NETLINK}, {"packet", unix.AF_PACKET}, {"ax25", unix.AF_AX25}, {"can", unix.AF_CAN},
		{"bluetooth", unix.AF_BLUETOOTH}, {"alg", unix.AF_ALG}, {"vsock", unix.AF_VSOCK}, {"max", unix.AF_MAX}} {
		// A bogus type gives EINVAL when the family is allowed.
		put("socket-"+f.name, sys(unix.SYS_SOCKET, uintptr(f.af), 0xffff, 0))
	}

	sort.Strings(out)
	fmt.Println(strings.Join(out, "\n"))
}
