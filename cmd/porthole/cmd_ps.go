package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/porthole-dev/porthole/internal/appinfo"
)

// instance is one running sandbox, from $XDG_RUNTIME_DIR/.flatpak/IID.
type instance struct {
	ID, Dir string
	// Pid is the launching porthole process, ChildPid the sandbox's pid 1.
	Pid, ChildPid int
	Info          *appinfo.Info
}

func instanceBase() string {
	d := os.Getenv("XDG_RUNTIME_DIR")
	if d == "" {
		d = fmt.Sprintf("/run/user/%d", os.Getuid())
	}
	return filepath.Join(d, ".flatpak")
}

// listInstances returns the live instances; directories of dead ones
// that porthole created (with an enter socket) are removed.
func listInstances() []instance {
	base := instanceBase()
	ents, _ := os.ReadDir(base)
	var out []instance
	for _, e := range ents {
		if _, err := strconv.ParseUint(e.Name(), 10, 32); err != nil || !e.IsDir() {
			continue
		}
		dir := filepath.Join(base, e.Name())
		data, err := os.ReadFile(filepath.Join(dir, "pid"))
		if err != nil {
			continue
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
		if pid <= 0 || syscall.Kill(pid, 0) == syscall.ESRCH {
			if _, err := os.Stat(filepath.Join(dir, "enter.sock")); err == nil {
				os.RemoveAll(dir)
			}
			continue
		}
		var bi struct {
			ChildPid int `json:"child-pid"`
		}
		if data, err := os.ReadFile(filepath.Join(dir, "bwrapinfo.json")); err == nil {
			json.Unmarshal(data, &bi)
		}
		if bi.ChildPid <= 0 || syscall.Kill(bi.ChildPid, 0) == syscall.ESRCH {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(dir, "info"))
		if err != nil {
			continue
		}
		info, _, err := appinfo.Parse(raw)
		if err != nil {
			continue
		}
		out = append(out, instance{ID: e.Name(), Dir: dir, Pid: pid, ChildPid: bi.ChildPid, Info: info})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Pid < out[j].Pid })
	return out
}

// findInstance matches an instance id, an app id or a pid.
func findInstance(key string) (instance, bool) {
	for _, in := range listInstances() {
		if in.ID == key || in.Info.Name == key || strconv.Itoa(in.Pid) == key || strconv.Itoa(in.ChildPid) == key {
			return in, true
		}
	}
	return instance{}, false
}

func runPs(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ps", flag.ContinueOnError)
	fs.SetOutput(stderr)
	columns := fs.String("columns", "instance,pid,application,runtime", "what information to show")
	if err := fs.Parse(args); err != nil {
		return 1
	}
	cols := strings.Split(*columns, ",")
	for _, in := range listInstances() {
		var row []string
		for _, c := range cols {
			switch c {
			case "instance":
				row = append(row, in.ID)
			case "pid":
				row = append(row, strconv.Itoa(in.Pid))
			case "child-pid":
				row = append(row, strconv.Itoa(in.ChildPid))
			case "application":
				row = append(row, in.Info.Name)
			case "arch":
				row = append(row, in.Info.Arch)
			case "branch":
				row = append(row, in.Info.Branch)
			case "commit":
				row = append(row, in.Info.AppCommit)
			case "runtime":
				// The runtime's id, as flatpak ps shows it.
				parts := strings.Split(in.Info.Runtime, "/")
				row = append(row, parts[min(1, len(parts)-1)])
			case "runtime-branch":
				parts := strings.Split(in.Info.Runtime, "/")
				row = append(row, parts[len(parts)-1])
			case "runtime-commit":
				row = append(row, in.Info.RuntimeCommit)
			default:
				fmt.Fprintf(stderr, "error: unknown column %s\n", c)
				return 1
			}
		}
		// Tab-separated, as flatpak ps prints when not on a terminal.
		fmt.Fprintln(stdout, strings.Join(row, "\t"))
	}
	return 0
}
