package keyfile

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// content is the data of a file without its comments and blank lines:
// groups, and each group's key lines with their raw values.
func content(f *File) [][]string {
	var out [][]string
	for _, g := range f.groups[1:] {
		row := []string{g.name}
		for _, l := range g.lines {
			if !l.comment {
				row = append(row, l.key+"="+l.value)
			}
		}
		out = append(out, row)
	}
	return out
}

// endsInCR reports whether some line, as the parser sees it, ends in '\r':
// GLib keeps that '\r' in the value (or comment) but drops it when reading
// the written file back, so such inputs do not round-trip.
func endsInCR(data []byte) bool {
	lines := bytes.Split(data, []byte("\n"))
	for i, l := range lines {
		if i < len(lines)-1 {
			l = bytes.TrimSuffix(l, []byte("\r"))
		}
		if j := bytes.IndexByte(l, 0); j >= 0 {
			l = l[:j]
		}
		if bytes.HasSuffix(l, []byte("\r")) {
			return true
		}
	}
	return false
}

func FuzzParse(f *testing.F) {
	for _, s := range parseCorpus {
		f.Add([]byte(s))
	}
	for _, data := range realFiles(f) {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		kf, err := Parse(data)
		if err != nil {
			return
		}
		// Every reader copes with every value.
		for _, g := range kf.Groups() {
			keys, _ := kf.Keys(g)
			for _, k := range keys {
				kf.String(g, k)
				kf.StringList(g, k)
				kf.Bool(g, k)
				kf.Int(g, k)
				kf.IntList(g, k)
				kf.Int64(g, k)
				kf.Uint64(g, k)
				kf.Float64(g, k)
				kf.LocaleString(g, k, "de_DE.UTF-8@euro")
				kf.LocaleStringList(g, k, "")
			}
		}
		out := kf.Bytes()
		kf2, err := Parse(out)
		if err != nil {
			t.Fatalf("Parse(Bytes()) = %v\ninput:  %q\noutput: %q", err, data, out)
		}
		data2 := kf2.ToData()
		kf3, err := Parse(data2)
		if err != nil {
			t.Fatalf("Parse(ToData()) = %v\noutput: %q", err, data2)
		}
		if endsInCR(data) {
			return
		}
		if diff := cmp.Diff(content(kf), content(kf2)); diff != "" {
			t.Fatalf("content changed by Bytes() (-before +after):\n%s\ninput: %q", diff, data)
		}
		if diff := cmp.Diff(content(kf), content(kf3)); diff != "" {
			t.Fatalf("content changed by ToData() (-before +after):\n%s\ninput: %q", diff, data)
		}
		if out2 := kf2.Bytes(); !bytes.Equal(out, out2) {
			t.Fatalf("Bytes() not stable:\nfirst:  %q\nsecond: %q", out, out2)
		}
	})
}
