package documentportal

import (
	"encoding/xml"
	"os"
	"testing"

	"github.com/godbus/dbus/v5/introspect"
	"github.com/google/go-cmp/cmp"
)

// TestIntrospectionMatchesData checks that what we serve is what
// data/dbus-interfaces documents.
func TestIntrospectionMatchesData(t *testing.T) {
	var served introspect.Node
	if err := xml.Unmarshal([]byte(IntrospectXML), &served); err != nil {
		t.Fatal(err)
	}
	byName := map[string]introspect.Interface{}
	for _, i := range served.Interfaces {
		byName[i.Name] = i
	}
	for _, name := range []string{DocumentsIface, TransferIface} {
		data, err := os.ReadFile("../data/dbus-interfaces/" + name + ".xml")
		if err != nil {
			t.Fatal(err)
		}
		var n introspect.Node
		if err := xml.Unmarshal(data, &n); err != nil {
			t.Fatalf("%s.xml: %v", name, err)
		}
		if len(n.Interfaces) != 1 {
			t.Fatalf("%s.xml has %d interfaces", name, len(n.Interfaces))
		}
		if diff := cmp.Diff(byName[name], n.Interfaces[0]); diff != "" {
			t.Errorf("%s: served vs data (-served +data):\n%s", name, diff)
		}
	}
}
