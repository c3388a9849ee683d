// Command run_bwrapargs turns a launcher.Spec (JSON, as written by
// `PORTHOLE_SPEC_OUT=FILE porthole run …`) into the equivalent bwrap
// argument list, one argument per line, so bench/run.sh can time bare
// bwrap doing the same mounts. Data files are written into DIR.
//
// Usage: run_bwrapargs SPEC.json DIR
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/porthole-dev/porthole/launcher"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: run_bwrapargs SPEC.json DIR")
		os.Exit(2)
	}
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var s launcher.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var a []string
	add := func(x ...string) { a = append(a, x...) }
	for i, m := range s.Mounts {
		switch m.Type {
		case launcher.Bind, launcher.ROBind, launcher.DevBind:
			opt := map[launcher.MountType]string{launcher.Bind: "--bind", launcher.ROBind: "--ro-bind", launcher.DevBind: "--dev-bind"}[m.Type]
			if m.Optional {
				opt += "-try"
			}
			add(opt, m.Source, m.Dest)
		case launcher.Tmpfs:
			if m.Mode != 0 {
				add("--perms", fmt.Sprintf("%04o", m.Mode))
			}
			add("--tmpfs", m.Dest)
		case launcher.Dir:
			if m.Mode != 0 {
				add("--perms", fmt.Sprintf("%04o", m.Mode))
			}
			add("--dir", m.Dest)
		case launcher.Symlink:
			add("--symlink", m.Source, m.Dest)
		case launcher.File:
			p := filepath.Join(os.Args[2], fmt.Sprintf("data-%d", i))
			os.WriteFile(p, m.Data, 0o644)
			if m.ReadOnly {
				add("--ro-bind", p, m.Dest)
			} else {
				add("--bind", p, m.Dest)
			}
		case launcher.Proc:
			add("--proc", m.Dest)
		case launcher.Dev:
			add("--dev", m.Dest)
		case launcher.RemountRO:
			add("--remount-ro", m.Dest)
		}
	}
	add("--unshare-pid")
	if !s.ShareIPC {
		add("--unshare-ipc")
	}
	if !s.ShareNet {
		add("--unshare-net")
	}
	add("--clearenv")
	for _, e := range s.Env {
		k, v, _ := strings.Cut(e, "=")
		add("--setenv", k, v)
	}
	add("--")
	add(s.Args...)
	fmt.Println(strings.Join(a, "\n"))
}
