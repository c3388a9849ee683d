// Command run_timer times commands interleaved (A B C … A B C …), so
// that load from other work on the machine falls on every command alike,
// and prints a JSON summary per command: median, min, max and all
// wall-clock times in milliseconds. Each argument is NAME=COMMAND LINE
// (split on blanks, no shell) or NAME=@FILE (the argument vector, one
// argument a line). Output of the commands is discarded; a failing run
// is an error.
//
// Usage: run_timer [-runs N] [-warmup N] NAME=CMD…
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"time"
)

type result struct {
	Name   string    `json:"name"`
	Median float64   `json:"median"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
	Times  []float64 `json:"times"`
}

func main() {
	runs := flag.Int("runs", 30, "counted runs of each command")
	warmup := flag.Int("warmup", 3, "uncounted runs of each command first")
	flag.Parse()
	var names []string
	var cmds [][]string
	for _, a := range flag.Args() {
		name, line, ok := strings.Cut(a, "=")
		if !ok || strings.TrimSpace(line) == "" {
			fmt.Fprintf(os.Stderr, "run_timer: %q is not NAME=COMMAND\n", a)
			os.Exit(2)
		}
		argv := strings.Fields(line)
		if file, ok := strings.CutPrefix(line, "@"); ok {
			data, err := os.ReadFile(file)
			if err != nil {
				fmt.Fprintln(os.Stderr, "run_timer:", err)
				os.Exit(1)
			}
			argv = strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
		}
		names = append(names, name)
		cmds = append(cmds, argv)
	}
	times := make([][]float64, len(cmds))
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for i := 0; i < *warmup+*runs; i++ {
		for j, c := range cmds {
			cmd := exec.Command(c[0], c[1:]...)
			cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, devnull
			t := time.Now()
			err := cmd.Run()
			d := time.Since(t)
			if err != nil {
				fmt.Fprintf(os.Stderr, "run_timer: %s: %v\n", names[j], err)
				os.Exit(1)
			}
			if i >= *warmup {
				times[j] = append(times[j], float64(d.Nanoseconds())/1e6)
			}
		}
	}
	var out []result
	for j, t := range times {
		s := append([]float64(nil), t...)
		sort.Float64s(s)
		med := s[len(s)/2]
		if len(s)%2 == 0 {
			med = (s[len(s)/2-1] + s[len(s)/2]) / 2
		}
		out = append(out, result{Name: names[j], Median: med, Min: s[0], Max: s[len(s)-1], Times: t})
	}
	json.NewEncoder(os.Stdout).Encode(out)
}
