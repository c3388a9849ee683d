package installation

import (
	"context"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/porthole-dev/porthole/store"
	"github.com/porthole-dev/porthole/store/object"
	"github.com/porthole-dev/porthole/store/pull"
)

// Component is one app of a remote's appstream data.
type Component struct {
	ID      string
	Name    string
	Summary string
	Version string
	Ref     string // from the flatpak bundle
	Remote  string
}

type asComponent struct {
	ID       string   `xml:"id"`
	Names    []asText `xml:"name"`
	Summarys []asText `xml:"summary"`
	Keywords []string `xml:"keywords>keyword"`
	Bundle   struct {
		Type  string `xml:"type,attr"`
		Value string `xml:",chardata"`
	} `xml:"bundle"`
	Releases []struct {
		Version string `xml:"version,attr"`
	} `xml:"releases>release"`
}

type asText struct {
	Lang  string `xml:"http://www.w3.org/XML/1998/namespace lang,attr"`
	Value string `xml:",chardata"`
}

func untranslated(ts []asText) string {
	for _, t := range ts {
		if t.Lang == "" {
			return strings.TrimSpace(t.Value)
		}
	}
	if len(ts) > 0 {
		return strings.TrimSpace(ts[0].Value)
	}
	return ""
}

// UpdateAppstream pulls appstream2/ARCH of remote and deploys it under
// DIR/appstream/REMOTE/ARCH/active.
func (i *Installation) UpdateAppstream(ctx context.Context, remote, arch string, progress pull.Progress) error {
	name := "appstream2/" + arch
	po := pull.Options{Progress: progress}
	// The commit from the (indexed) summary, as flatpak reads it.
	if _, refs, err := i.fetchSummary(ctx, remote, nil, []string{arch}); err == nil {
		if rr, ok := refs[name]; ok {
			if c, err := object.ParseChecksum(rr.Commit); err == nil {
				po.Commits = map[string]object.Checksum{name: c}
			}
		}
	}
	res, err := pull.Pull(ctx, i.repo, remote, []string{name}, po)
	if err != nil {
		return err
	}
	sum := res.Refs[name].String()
	base := filepath.Join(i.Dir, "appstream", remote, arch)
	if cur, _ := os.Readlink(filepath.Join(base, "active")); cur == sum {
		return nil
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		return err
	}
	stage := filepath.Join(base, "."+sum)
	os.RemoveAll(stage)
	if err := store.Checkout(ctx, i.repo, sum, stage, store.CheckoutOptions{UserMode: true}); err != nil {
		return err
	}
	os.RemoveAll(filepath.Join(base, sum))
	if err := os.Rename(stage, filepath.Join(base, sum)); err != nil {
		return err
	}
	prev, _ := os.Readlink(filepath.Join(base, "active"))
	if err := atomicSymlink(sum, filepath.Join(base, "active")); err != nil {
		return err
	}
	if prev != "" && prev != sum {
		os.RemoveAll(filepath.Join(base, prev))
	}
	return nil
}

// Components reads the deployed appstream data of remote for arch.
func (i *Installation) Components(remote, arch string) ([]Component, error) {
	data, err := os.ReadFile(filepath.Join(i.Dir, "appstream", remote, arch, "active", "appstream.xml"))
	if err != nil {
		return nil, fmt.Errorf("reading appstream of %s: %w", remote, err)
	}
	return ParseAppstream(data, remote)
}

// ParseAppstream parses an appstream.xml collection.
func ParseAppstream(data []byte, remote string) ([]Component, error) {
	var doc struct {
		Components []asComponent `xml:"component"`
	}
	if err := xml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("reading appstream: %w", err)
	}
	var out []Component
	for _, c := range doc.Components {
		comp := Component{ID: strings.TrimSuffix(strings.TrimSpace(c.ID), ".desktop"), Name: untranslated(c.Names),
			Summary: untranslated(c.Summarys), Remote: remote}
		if c.Bundle.Type == "flatpak" {
			comp.Ref = strings.TrimSpace(c.Bundle.Value)
		}
		if len(c.Releases) > 0 {
			comp.Version = c.Releases[0].Version
		}
		out = append(out, comp)
	}
	return out, nil
}

// Search matches text (case-insensitively) against the id, name, summary
// and keywords of the components of every remote's deployed appstream.
func (i *Installation) Search(text, arch string) []Component {
	q := strings.ToLower(text)
	var out []Component
	for _, r := range i.Remotes() {
		data, err := os.ReadFile(filepath.Join(i.Dir, "appstream", r.Name, arch, "active", "appstream.xml"))
		if err != nil {
			continue
		}
		var doc struct {
			Components []asComponent `xml:"component"`
		}
		if xml.Unmarshal(data, &doc) != nil {
			continue
		}
		comps, _ := ParseAppstream(data, r.Name)
		for k, c := range doc.Components {
			hay := strings.ToLower(strings.Join(append([]string{c.ID, untranslated(c.Names), untranslated(c.Summarys)}, c.Keywords...), "\n"))
			if strings.Contains(hay, q) {
				out = append(out, comps[k])
			}
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].ID < out[b].ID })
	return out
}
