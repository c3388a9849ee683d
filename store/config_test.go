package store

import (
	"bytes"
	"testing"
)

func TestConfigRoundTrip(t *testing.T) {
	in := "# comment\n[core]\nrepo_version=1\nmode=archive-z2\n\n[remote \"origin\"]\nurl=http://x/\ngpg-verify=false\n"
	c, err := ParseConfig([]byte(in))
	must(t, err)
	if got := string(c.Marshal()); got != in {
		t.Errorf("Marshal = %q, want %q", got, in)
	}
	c.SetValue("core", "indexed-deltas", "true")
	c.SetValue("remote \"b\"", "url", " lead\\ing")
	c.DeleteGroup("remote \"origin\"")
	want := "# comment\n[core]\nrepo_version=1\nmode=archive-z2\nindexed-deltas=true\n\n[remote \"b\"]\nurl=\\slead\\\\ing\n"
	if got := string(c.Marshal()); got != want {
		t.Errorf("after edits = %q, want %q", got, want)
	}
	c2, err := ParseConfig(c.Marshal())
	must(t, err)
	if v, _ := c2.Value("remote \"b\"", "url"); v != " lead\\ing" {
		t.Errorf("escaped value read back as %q", v)
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("[core]\nrepo_version=1\nmode=bare-user-only\n"))
	f.Add([]byte("# x\n[remote \"o\"]\nurl=\\s\\n\\t\\\\\nk=v\n\n[a]\n"))
	f.Fuzz(func(t *testing.T, d []byte) {
		c, err := ParseConfig(d)
		if err != nil {
			return
		}
		out := c.Marshal()
		c2, err := ParseConfig(out)
		if err != nil {
			t.Fatalf("re-parse of %q: %v", out, err)
		}
		if !bytes.Equal(c2.Marshal(), out) {
			t.Fatalf("not stable: %q then %q", out, c2.Marshal())
		}
	})
}
