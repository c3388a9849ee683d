package gvdb

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestGLibOrder compares GLibOrder with the iteration order of a real
// GLib 2.74 GHashTable (testdata/gen-glib-order.sh).
func TestGLibOrder(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "glib-order.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := map[int][]string{}
	cur := -1
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "case "):
			cur, _ = strconv.Atoi(strings.TrimPrefix(line, "case "))
			want[cur] = []string{}
		default:
			want[cur] = append(want[cur], line)
		}
	}
	if len(want) == 0 {
		t.Fatal("no cases")
	}
	for n, order := range want {
		var keys []string
		for i := range n {
			keys = append(keys, fmt.Sprintf("id-%d", i))
		}
		for i := range n / 2 {
			keys = append(keys, fmt.Sprintf("id-%d", i))
		}
		if diff := cmp.Diff(order, GLibOrder(keys)); diff != "" {
			t.Errorf("GLibOrder(%d keys) differs from GLib (-glib +ours):\n%s", n, diff)
		}
	}
}
