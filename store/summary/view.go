package summary

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/porthole-dev/porthole/internal/gvariant"
)

// isoTime formats like GLib's "%Y-%m-%dT%H:%M:%S%:::z" in UTC.
func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05") + "+00" }

func beTime(v gvariant.Value) (string, bool) {
	if v.Type().String() != "t" {
		return "", false
	}
	return isoTime(time.Unix(int64(swap64(v.Uint64())), 0)), true
}

// View prints a summary the way `ostree summary --view` does.
func View(w io.Writer, data []byte) error {
	s, err := Parse(data)
	if err != nil {
		return err
	}
	var b strings.Builder
	collID := ""
	if v, ok := s.Lookup(KeyCollectionID); ok && v.Type().String() == "s" {
		collID = v.Str()
	}
	printRefs(&b, collID, s.Refs)
	if v, ok := s.Lookup(KeyCollectionMap); ok && v.Type().String() == "a{sa(s(taya{sv}))}" {
		for i := 0; i < v.Len(); i++ {
			e := v.Index(i)
			if refs, err := parseRefs(e.Index(1)); err == nil {
				printRefs(&b, e.Index(0).Str(), refs)
			}
		}
	}
	for _, e := range s.Metadata {
		v := e.Value
		switch e.Key {
		case KeyMode:
			if v.Type().String() == "s" {
				fmt.Fprintf(&b, "Repository Mode (%s): %s\n", e.Key, v.Str())
				continue
			}
		case KeyLastModified:
			if t, ok := beTime(v); ok {
				fmt.Fprintf(&b, "Last-Modified (%s): %s\n", e.Key, t)
				continue
			}
		case KeyExpires:
			if t, ok := beTime(v); ok {
				fmt.Fprintf(&b, "Expires (%s): %s\n", e.Key, t)
				continue
			}
		case KeyTombstone:
			if v.Type().String() == "b" {
				yn := "No"
				if v.Bool() {
					yn = "Yes"
				}
				fmt.Fprintf(&b, "Has Tombstone Commits (%s): %s\n", e.Key, yn)
				continue
			}
		case KeyStaticDeltas:
			fmt.Fprintf(&b, "Static Deltas (%s): %s\n", e.Key, v.String())
			continue
		case KeyCollectionID:
			if v.Type().String() == "s" {
				fmt.Fprintf(&b, "Collection ID (%s): %s\n", e.Key, v.Str())
				continue
			}
		case KeyCollectionMap:
			continue // printed with the refs
		}
		fmt.Fprintf(&b, "%s: %s\n", e.Key, v.String())
	}
	_, err = io.WriteString(w, b.String())
	return err
}

func printRefs(b *strings.Builder, collID string, refs []Ref) {
	for _, r := range refs {
		if collID != "" {
			fmt.Fprintf(b, "* (%s, %s)\n", collID, r.Name)
		} else {
			fmt.Fprintf(b, "* %s\n", r.Name)
		}
		fmt.Fprintf(b, "    Latest Commit (%d bytes):\n      %s\n", r.CommitSize, r.Checksum)
		for _, e := range r.Metadata {
			switch e.Key {
			case KeyCommitVersion:
				if e.Value.Type().String() == "s" {
					fmt.Fprintf(b, "    Version (%s): %s\n", e.Key, e.Value.Str())
					continue
				}
			case KeyCommitTimestamp:
				if t, ok := beTime(e.Value); ok {
					fmt.Fprintf(b, "    Timestamp (%s): %s\n", e.Key, t)
					continue
				}
			}
			fmt.Fprintf(b, "    %s: %s\n", e.Key, e.Value.String())
		}
		b.WriteString("\n")
	}
}
