package proxycli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/porthole-dev/porthole/launcher/dbusproxy"
)

const usage = `usage: porthole dbus-proxy [OPTIONS...] [ADDRESS PATH [OPTIONS...] ...]

Options:
    --help                       Print this help
    --version                    Print version
    --fd=FD                      Stop when FD is closed
    --args=FD                    Read arguments from FD

Proxy Options:
    --filter                     Enable filtering
    --log                        Turn on logging
    --sloppy-names               Report name changes for unique names
    --see=NAME                   Set 'see' policy for NAME
    --talk=NAME                  Set 'talk' policy for NAME
    --own=NAME                   Set 'own' policy for NAME
    --call=NAME=RULE             Set RULE for calls on NAME
    --broadcast=NAME=RULE        Set RULE for broadcasts from NAME
`

// gcPercent is the proxy's GOGC unless the environment sets one.
const gcPercent = 25

// group is one ADDRESS PATH group of the command line.
type group struct {
	address, path string
	policy        dbusproxy.Policy
	log           bool
}

// cmdline is the parsed command line, in xdg-dbus-proxy's grammar:
// generic options anywhere, each ADDRESS PATH followed by its own options.
type cmdline struct {
	syncFD int
	groups []group
	help   bool
	vers   bool
}

func parseArgs(args []string) (*cmdline, error) {
	a := &cmdline{syncFD: -1}
	args = slicesClone(args)
	for i := 0; i < len(args); {
		if strings.HasPrefix(args[i], "-") {
			var err error
			if args, err = a.generic(args, &i); err != nil || a.help || a.vers {
				return a, err
			}
			continue
		}
		if i+1 >= len(args) || strings.HasPrefix(args[i+1], "-") {
			return nil, argError("No socket path given")
		}
		g := group{address: args[i], path: args[i+1]}
		i += 2
		for i < len(args) && strings.HasPrefix(args[i], "-") {
			arg := args[i]
			switch {
			case strings.HasPrefix(arg, "--see="), strings.HasPrefix(arg, "--talk="), strings.HasPrefix(arg, "--own="):
				verb, name, _ := strings.Cut(arg[2:], "=")
				l, _ := dbusproxy.ParseLevel(verb)
				g.policy.SetLevel(name, l)
				if err := g.policy.Validate(); err != nil {
					return nil, argErrorf("'%s' is not a valid dbus name", strings.TrimSuffix(name, ".*"))
				}
			case strings.HasPrefix(arg, "--call="), strings.HasPrefix(arg, "--broadcast="):
				verb, rest, _ := strings.Cut(arg[2:], "=")
				name, rule, ok := strings.Cut(rest, "=")
				if !ok {
					return nil, argErrorf("'%s' is not a valid name + rule", rest)
				}
				if verb == "call" {
					g.policy.AddCall(name, rule)
				} else {
					g.policy.AddBroadcast(name, rule)
				}
				if err := g.policy.Validate(); err != nil {
					return nil, argErrorf("'%s' is not a valid dbus name", strings.TrimSuffix(name, ".*"))
				}
			case arg == "--log":
				g.log = true
			case arg == "--filter":
				g.policy.Filter = true
			case arg == "--sloppy-names":
				g.policy.SloppyNames = true
			default:
				var err error
				if args, err = a.generic(args, &i); err != nil || a.help || a.vers {
					return a, err
				}
				continue
			}
			i++
		}
		a.groups = append(a.groups, g)
	}
	if len(a.groups) == 0 {
		return nil, argError("No proxies specified")
	}
	return a, nil
}

// argError is a command line error, worded as xdg-dbus-proxy words it.
type argError string

func (e argError) Error() string { return string(e) }

func argErrorf(format string, args ...any) error { return argError(fmt.Sprintf(format, args...)) }

func slicesClone(s []string) []string { return append([]string(nil), s...) }

// generic handles --help, --version, --fd= and --args= at args[*i]. --args
// splices the NUL-separated arguments read from its fd in after itself.
func (a *cmdline) generic(args []string, i *int) ([]string, error) {
	arg := args[*i]
	switch {
	case arg == "--help":
		a.help = true
	case arg == "--version":
		a.vers = true
	case strings.HasPrefix(arg, "--fd="):
		fd, err := strconv.Atoi(arg[len("--fd="):])
		if err != nil || fd < 0 {
			return nil, argErrorf("Invalid fd %s", arg[len("--fd="):])
		}
		a.syncFD = fd
	case strings.HasPrefix(arg, "--args="):
		fd, err := strconv.Atoi(arg[len("--args="):])
		if err != nil || fd < 0 {
			return nil, argErrorf("Invalid --args fd %s", arg[len("--args="):])
		}
		data, err := io.ReadAll(os.NewFile(uintptr(fd), "args"))
		if err != nil {
			return nil, argErrorf("Failed to load --args: %v", err)
		}
		var extra []string
		for len(data) > 0 {
			field, rest, _ := bytes.Cut(data, []byte{0})
			extra = append(extra, string(field))
			data = rest
		}
		args = append(args[:*i+1], append(extra, args[*i+1:]...)...)
	default:
		return nil, argErrorf("Unknown argument %s", arg)
	}
	*i++
	return args, nil
}

// Run runs the proxy command line args (the arguments after the verb) until
// ctx is cancelled, the --fd pipe hangs up, or SIGINT or SIGTERM arrives
// (caught once the sockets listen, so that they are removed), and returns
// the exit code. version is what --version prints.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer, version string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 1
	}
	a, err := parseArgs(args)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if a.help {
		fmt.Fprint(stdout, usage)
		return 0
	}
	if a.vers {
		fmt.Fprintf(stdout, "porthole-dbus-proxy %s\n", version)
		return 0
	}
	// A proxy holds little live memory (a few KiB per client) and makes
	// some garbage per message: under the default target (twice the live
	// heap, 4 MiB at least) garbage would make up most of its resident
	// size. A lower one costs little: its heap is small to mark.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	type server struct {
		px *dbusproxy.Proxy
		l  *net.UnixListener
	}
	var servers []server
	defer func() {
		for _, s := range servers {
			s.l.Close()
		}
	}()
	for _, g := range a.groups {
		opts := &dbusproxy.Options{Logger: logger}
		if g.log {
			opts.Trace = stdout
		}
		px, err := dbusproxy.New(g.address, g.policy, opts)
		if err != nil {
			fmt.Fprintf(stderr, "Failed to start proxy for %s: %v\n", g.address, err)
			return 1
		}
		l, err := dbusproxy.Listen(g.path)
		if err != nil {
			fmt.Fprintf(stderr, "Failed to start proxy for %s: %v\n", g.address, err)
			return 1
		}
		servers = append(servers, server{px, l})
	}
	if a.syncFD >= 0 {
		if n, err := unix.Write(a.syncFD, []byte("x")); n != 1 || err != nil {
			logger.Warn("Can't write to sync socket", "err", err)
		}
		go func() {
			waitHangUp(a.syncFD)
			cancel()
		}()
	}
	// Signals are caught only now: setting that up costs a thread, which
	// need not delay readiness.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		select {
		case <-sigs:
			cancel()
		case <-ctx.Done():
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, len(servers))
	for _, s := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.px.Serve(ctx, s.l); err != nil {
				errs <- err
				cancel()
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}

// waitHangUp blocks until fd reports POLLHUP, POLLERR or POLLNVAL.
func waitHangUp(fd int) {
	fds := []unix.PollFd{{Fd: int32(fd), Events: 0}}
	for {
		n, err := unix.Poll(fds, -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil || (n > 0 && fds[0].Revents&(unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) != 0) {
			return
		}
	}
}
