package installation

import "testing"

const sampleAppstream = `<?xml version="1.0" encoding="UTF-8"?>
<components version="0.8" origin="flatpak">
<component type="desktop-application">
  <id>org.test.Hello</id>
  <name>Hello</name>
  <name xml:lang="de">Hallo</name>
  <summary>Greets the world</summary>
  <keywords><keyword>greeting</keyword></keywords>
  <releases><release version="1.2" timestamp="1"/></releases>
  <bundle type="flatpak" runtime="runtime/org.test.Platform/x86_64/1">app/org.test.Hello/x86_64/stable</bundle>
</component>
</components>
`

func TestParseAppstream(t *testing.T) {
	cs, err := ParseAppstream([]byte(sampleAppstream), "r")
	if err != nil || len(cs) != 1 {
		t.Fatal(err, cs)
	}
	c := cs[0]
	if c.ID != "org.test.Hello" || c.Name != "Hello" || c.Summary != "Greets the world" || c.Version != "1.2" || c.Ref != "app/org.test.Hello/x86_64/stable" {
		t.Errorf("%+v", c)
	}
	if _, err := ParseAppstream([]byte("<components><component>"), "r"); err == nil {
		t.Error("truncated XML accepted")
	}
}

func FuzzParseAppstream(f *testing.F) {
	f.Add([]byte(sampleAppstream))
	f.Fuzz(func(t *testing.T, d []byte) { _, _ = ParseAppstream(d, "r") })
}
