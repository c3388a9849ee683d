// Command documentportal measures file access through a document of the
// running document portal against the same file read directly and through
// a plain passthrough FUSE mount (bindfs): sequential and random
// read/write throughput and metadata operations per second. It is run by
// bench/documentportal.sh inside a private D-Bus session.
//
// Usage: documentportal -file F -bindfs DIR [-runs N] [-size MiB] [-only NAME]
//
// The three paths are measured interleaved (A B C A B C …) after one
// warm-up round; the median of the runs is reported with the ratios
// document/direct and document/bindfs (above 1: the document is faster).
package main

import (
	"flag"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/godbus/dbus/v5"
	"golang.org/x/sys/unix"
)

func main() {
	file := flag.String("file", "", "real file to export and measure")
	bindfs := flag.String("bindfs", "", "bindfs mount of the file's directory")
	runs := flag.Int("runs", 5, "measured runs per path")
	sizeMiB := flag.Int("size", 256, "file size in MiB")
	only := flag.String("only", "", "run only the measures whose names contain this")
	flag.Parse()
	if *file == "" || *bindfs == "" {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*file, *bindfs, *runs, int64(*sizeMiB)<<20, *only); err != nil {
		fmt.Fprintln(os.Stderr, "documentportal bench:", err)
		os.Exit(1)
	}
}

func run(file, bindfs string, runs int, size int64, only string) error {
	if err := fill(file, size); err != nil {
		return err
	}
	docPath, err := export(file)
	if err != nil {
		return err
	}
	paths := []struct{ name, path string }{
		{"direct", file},
		{"document", docPath},
		{"bindfs", filepath.Join(bindfs, filepath.Base(file))},
	}
	fmt.Printf("document: %s\nfile size %d MiB, %d runs, median reported\n\n", docPath, size>>20, runs)
	fmt.Printf("%-22s %12s %12s %12s %10s %10s\n", "", "direct", "document", "bindfs", "doc/direct", "doc/bindfs")
	for _, m := range measures(size) {
		if !strings.Contains(m.name, only) {
			continue
		}
		res := make([][]float64, len(paths))
		for r := 0; r <= runs; r++ { // round 0 is the warm-up
			for i, p := range paths {
				v, err := m.run(p.path)
				if err != nil {
					return fmt.Errorf("%s on %s: %w", m.name, p.name, err)
				}
				if r > 0 {
					res[i] = append(res[i], v)
				}
			}
		}
		med := make([]float64, len(paths))
		for i := range res {
			med[i] = median(res[i])
		}
		fmt.Printf("%-22s %12.1f %12.1f %12.1f %9.2fx %9.2fx   (%s)\n", m.name, med[0], med[1], med[2], med[1]/med[0], med[1]/med[2], m.unit)
	}
	return nil
}

type measure struct {
	name, unit string
	run        func(path string) (float64, error)
}

func measures(size int64) []measure {
	const blk = 1 << 20
	const small = 4096
	const nRandom = 20000
	const nMeta = 20000
	return []measure{
		{"sequential read", "MB/s", func(p string) (float64, error) {
			f, err := os.Open(p)
			if err != nil {
				return 0, err
			}
			defer f.Close()
			buf := make([]byte, blk)
			t0 := time.Now()
			var n int64
			for {
				k, err := f.Read(buf)
				n += int64(k)
				if err != nil || k == 0 {
					break
				}
			}
			return float64(n) / 1e6 / time.Since(t0).Seconds(), nil
		}},
		{"random read 4k", "MB/s", func(p string) (float64, error) {
			f, err := os.Open(p)
			if err != nil {
				return 0, err
			}
			defer f.Close()
			rng := rand.New(rand.NewSource(1))
			buf := make([]byte, small)
			t0 := time.Now()
			for i := 0; i < nRandom; i++ {
				if _, err := f.ReadAt(buf, rng.Int63n(size/small)*small); err != nil {
					return 0, err
				}
			}
			return float64(nRandom*small) / 1e6 / time.Since(t0).Seconds(), nil
		}},
		{"sequential write", "MB/s", func(p string) (float64, error) {
			f, err := os.OpenFile(p, os.O_WRONLY, 0)
			if err != nil {
				return 0, err
			}
			defer f.Close()
			buf := make([]byte, blk)
			n := size / 4
			t0 := time.Now()
			for off := int64(0); off < n; off += blk {
				if _, err := f.WriteAt(buf, off); err != nil {
					return 0, err
				}
			}
			return float64(n) / 1e6 / time.Since(t0).Seconds(), nil
		}},
		{"random write 4k", "MB/s", func(p string) (float64, error) {
			f, err := os.OpenFile(p, os.O_WRONLY, 0)
			if err != nil {
				return 0, err
			}
			defer f.Close()
			rng := rand.New(rand.NewSource(2))
			buf := make([]byte, small)
			t0 := time.Now()
			for i := 0; i < nRandom; i++ {
				if _, err := f.WriteAt(buf, rng.Int63n(size/small)*small); err != nil {
					return 0, err
				}
			}
			return float64(nRandom*small) / 1e6 / time.Since(t0).Seconds(), nil
		}},
		{"stat", "ops/s", func(p string) (float64, error) {
			var st unix.Stat_t
			t0 := time.Now()
			for i := 0; i < nMeta; i++ {
				if err := unix.Stat(p, &st); err != nil {
					return 0, err
				}
			}
			return nMeta / time.Since(t0).Seconds(), nil
		}},
		{"open+close", "ops/s", func(p string) (float64, error) {
			t0 := time.Now()
			for i := 0; i < nMeta; i++ {
				fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
				if err != nil {
					return 0, err
				}
				unix.Close(fd)
			}
			return nMeta / time.Since(t0).Seconds(), nil
		}},
		{"readdir", "ops/s", func(p string) (float64, error) {
			dir := filepath.Dir(p)
			t0 := time.Now()
			for i := 0; i < nMeta/10; i++ {
				if _, err := os.ReadDir(dir); err != nil {
					return 0, err
				}
			}
			return nMeta / 10 / time.Since(t0).Seconds(), nil
		}},
	}
}

func median(v []float64) float64 {
	sort.Float64s(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// fill writes size bytes of pseudo-random data to file.
func fill(file string, size int64) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	rand.New(rand.NewSource(3)).Read(buf)
	for n := int64(0); n < size; n += int64(len(buf)) {
		if _, err := f.Write(buf); err != nil {
			return err
		}
	}
	return f.Sync()
}

// export adds file to the document portal of the session bus and returns
// its path on the mount.
func export(file string) (string, error) {
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		return "", err
	}
	defer conn.Close()
	fd, err := unix.Open(file, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	obj := conn.Object("org.freedesktop.portal.Documents", "/org/freedesktop/portal/documents")
	var ids []string
	var extra map[string]dbus.Variant
	err = obj.Call("org.freedesktop.portal.Documents.AddFull", 0, []dbus.UnixFD{dbus.UnixFD(fd)}, uint32(1), "", []string{}).Store(&ids, &extra)
	if err != nil {
		return "", fmt.Errorf("AddFull: %w", err)
	}
	mnt, _ := extra["mountpoint"].Value().([]byte)
	return filepath.Join(strings.TrimRight(string(mnt), "\x00"), ids[0], filepath.Base(file)), nil
}
