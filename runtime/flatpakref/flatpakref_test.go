package flatpakref

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

func TestVectors(t *testing.T) {
	data, err := os.ReadFile("testdata/test.flatpakrepo")
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseRepo(data)
	if err != nil {
		t.Fatal(err)
	}
	if r.URL != "http://127.0.0.1:8765/fp/repo/" || r.Title != "Test Repo" || r.DefaultBranch != "stable" || len(r.GPGKey) < 100 {
		t.Errorf("repo %+v", r)
	}
	r2, err := ParseRepo(r.Bytes())
	if err != nil || r2.URL != r.URL || !bytes.Equal(r2.GPGKey, r.GPGKey) {
		t.Errorf("repo round trip %v", err)
	}
	data, err = os.ReadFile("testdata/hello.flatpakref")
	if err != nil {
		t.Fatal(err)
	}
	f, err := ParseRef(data)
	if err != nil {
		t.Fatal(err)
	}
	if f.Name != "org.test.Hello" || f.Branch != "stable" || f.IsRuntime || f.SuggestRemoteName != "hellorepo" || f.Ref("x86_64").String() != "app/org.test.Hello/x86_64/stable" {
		t.Errorf("ref %+v", f)
	}
	f2, err := ParseRef(f.Bytes())
	if err != nil || f2.Name != f.Name || !bytes.Equal(f2.GPGKey, f.GPGKey) || f2.Branch != "stable" {
		t.Errorf("ref round trip %v", err)
	}
}

func TestBad(t *testing.T) {
	for _, s := range []string{"", "[Flatpak Ref]\nName=org.a.B\n", "[Flatpak Ref]\nName=bad\nUrl=http://x/\n",
		"[Flatpak Ref]\nName=org.a.B\nUrl=http://x/\nGPGKey=!!\n", "[Flatpak Ref]\nName=org.a.B\nUrl=http://x/\nIsRuntime=maybe\n"} {
		if _, err := ParseRef([]byte(s)); err == nil {
			t.Errorf("ParseRef(%q) accepted", s)
		}
	}
	if _, err := ParseRepo([]byte("[Flatpak Repo]\nTitle=x\n")); err == nil {
		t.Error("repo without Url accepted")
	}
}

func FuzzParse(f *testing.F) {
	for _, p := range []string{"testdata/test.flatpakrepo", "testdata/hello.flatpakref"} {
		d, _ := os.ReadFile(p)
		f.Add(d)
	}
	f.Fuzz(func(t *testing.T, d []byte) {
		if r, err := ParseRepo(d); err == nil {
			if _, err := ParseRepo(r.Bytes()); err != nil {
				t.Fatalf("written repo unreadable: %v", err)
			}
		}
		if r, err := ParseRef(d); err == nil {
			if _, err := ParseRef(r.Bytes()); err != nil {
				t.Fatalf("written ref unreadable: %v", err)
			}
		}
	})
}

func TestRepoSubsetRoundTrip(t *testing.T) {
	in := &Repo{URL: "https://example.org/repo/", Title: "Example", Subset: "verified"}
	out, err := ParseRepo(in.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if out.Subset != "verified" || out.URL != in.URL {
		t.Errorf("round trip: %+v", out)
	}
	if !strings.Contains(string(in.Bytes()), "\nSubset=verified\n") {
		t.Errorf("no Subset key:\n%s", in.Bytes())
	}
}
