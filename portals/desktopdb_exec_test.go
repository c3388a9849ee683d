package portals

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Desktop files in the wild quote the way GLib's shell parser (which
// upstream launches with) accepts: single quotes and backslashes too.
func TestSplitExecShellQuotes(t *testing.T) {
	for in, want := range map[string][]string{
		`sh -c 'echo "$1" >> /tmp/x' sh %u`: {"sh", "-c", `echo "$1" >> /tmp/x`, "sh", "%u"},
		`prog 'it''s' ''`:                   {"prog", "its", ""},
		`prog a\ b "'q'"`:                   {"prog", "a b", "'q'"},
	} {
		if diff := cmp.Diff(want, splitExec(in)); diff != "" {
			t.Errorf("splitExec(%q) (-want +got):\n%s", in, diff)
		}
	}
}

func FuzzSplitExec(f *testing.F) {
	for _, s := range []string{"true %u", `"/opt/my app/bin" --x "a\"b"`, `sh -c 'echo "$1"' sh %U`, `a\`, `'open`, `"open`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		args := splitExec(s)
		if len(args) > len(s) {
			t.Fatalf("splitExec(%q) made %d arguments", s, len(args))
		}
	})
}
