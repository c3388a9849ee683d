package installation

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/porthole-dev/porthole/internal/gvariant"
	"github.com/porthole-dev/porthole/store"
	"github.com/porthole-dev/porthole/store/pull"
	"github.com/porthole-dev/porthole/store/sign"
	"github.com/porthole-dev/porthole/store/summary"
)

// Remote is a configured remote.
type Remote struct {
	Name          string
	URL           string
	Title         string
	DefaultBranch string
	GPGVerify     bool
	Disabled      bool
	Priority      string
	CollectionID  string
}

// RemoteOptions tune AddRemote and ModifyRemote.
type RemoteOptions struct {
	NoGPGVerify   bool
	GPGKey        []byte // binary or armored public keys
	IfNotExists   bool
	Title         string
	DefaultBranch string
	CollectionID  string
	// Subset is the remote's xa.subset: only the refs of that named subset
	// are seen (through the summary index's SUBSET-ARCH subsummaries).
	Subset string
}

func remoteGroup(name string) string { return fmt.Sprintf("remote \"%s\"", name) }

// AddRemote adds a remote as flatpak remote-add does: gpg-verify and
// gpg-verify-summary on unless NoGPGVerify, key imported into
// repo/NAME.trustedkeys.gpg with xa.gpg-keys-hash recorded.
func (i *Installation) AddRemote(ctx context.Context, name, url string, o RemoteOptions) error {
	set := [][2]string{}
	if o.NoGPGVerify {
		set = append(set, [2]string{"gpg-verify-summary", "false"})
	} else {
		set = append(set, [2]string{"gpg-verify-summary", "true"})
	}
	if o.Title != "" {
		set = append(set, [2]string{"xa.title", o.Title})
	}
	if o.DefaultBranch != "" {
		set = append(set, [2]string{"xa.default-branch", o.DefaultBranch})
	}
	if o.CollectionID != "" {
		set = append(set, [2]string{"collection-id", o.CollectionID})
	}
	if o.Subset != "" {
		set = append(set, [2]string{"xa.subset", o.Subset})
	}
	if len(o.GPGKey) > 0 {
		h := sha256.Sum256(o.GPGKey)
		set = append(set, [2]string{"xa.gpg-keys-hash", hex.EncodeToString(h[:])})
	}
	_, err := pull.AddRemote(ctx, i.repo, name, url, pull.AddOptions{NoGPGVerify: o.NoGPGVerify, Set: set,
		GPGImport: o.GPGKey, IfNotExists: o.IfNotExists})
	return err
}

// ModifyRemote changes url, title, default branch, verification or keys.
func (i *Installation) ModifyRemote(ctx context.Context, name, url string, o RemoteOptions, gpgVerify *bool) error {
	g := remoteGroup(name)
	if _, ok := i.repo.ConfigValue(g, "url"); !ok {
		return fmt.Errorf("%s: %w", name, ErrNoRemote)
	}
	if len(o.GPGKey) > 0 {
		if _, err := sign.ImportKeys(sign.RemoteKeyringPath(i.repo.Path(), name), o.GPGKey); err != nil {
			return err
		}
	}
	return i.repo.UpdateConfig(func(c *store.Config) error {
		if url != "" {
			c.SetValue(g, "url", url)
		}
		if o.Title != "" {
			c.SetValue(g, "xa.title", o.Title)
		}
		if o.DefaultBranch != "" {
			c.SetValue(g, "xa.default-branch", o.DefaultBranch)
		}
		if o.Subset != "" {
			c.SetValue(g, "xa.subset", o.Subset)
		}
		if gpgVerify != nil {
			v := fmt.Sprint(*gpgVerify)
			c.SetValue(g, "gpg-verify", v)
			c.SetValue(g, "gpg-verify-summary", v)
		}
		return nil
	})
}

// DeleteRemote removes a remote; refs installed from it block this unless
// force.
func (i *Installation) DeleteRemote(ctx context.Context, name string, force bool) error {
	if !force {
		ds, _ := i.List()
		for _, d := range ds {
			if d.Origin == name {
				return fmt.Errorf("cannot remove remote %s: %s is installed from it", name, d.Ref)
			}
		}
	}
	err := pull.DeleteRemote(ctx, i.repo, name, false)
	if errors.Is(err, pull.ErrNoRemote) {
		return fmt.Errorf("%s: %w", name, ErrNoRemote)
	}
	return err
}

// Remotes lists the configured remotes by name.
func (i *Installation) Remotes() []Remote {
	var out []Remote
	for _, n := range pull.ListRemotes(i.repo) {
		r, err := i.Remote(n)
		if err == nil {
			out = append(out, *r)
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	return out
}

// Remote returns one remote's settings.
func (i *Installation) Remote(name string) (*Remote, error) {
	g := remoteGroup(name)
	url, ok := i.repo.ConfigValue(g, "url")
	if !ok {
		return nil, fmt.Errorf("%s: %w", name, ErrNoRemote)
	}
	get := func(k string) string { v, _ := i.repo.ConfigValue(g, k); return v }
	return &Remote{Name: name, URL: url, Title: get("xa.title"), DefaultBranch: get("xa.default-branch"),
		GPGVerify: get("gpg-verify") != "false", Disabled: get("xa.disable") == "true",
		Priority: get("xa.prio"), CollectionID: get("collection-id")}, nil
}

// RemoteByURL returns the remote with url, if any (install --from reuses it).
func (i *Installation) RemoteByURL(url string) (string, bool) {
	norm := func(s string) string { return strings.TrimSuffix(s, "/") }
	for _, r := range i.Remotes() {
		if norm(r.URL) == norm(url) {
			return r.Name, true
		}
	}
	return "", false
}

// RemoteRef is one ref a remote offers.
type RemoteRef struct {
	Name          string
	Commit        string
	InstalledSize uint64
	DownloadSize  uint64
	Metadata      string
	// EOL and EOLRebase: the ref is end-of-life, with a reason or the ref
	// replacing it (the summary's eol/eolr sparse data).
	EOL, EOLRebase string
}

// FetchSummary reads the refs a remote offers for arches (every arch when
// none are given). Like Flatpak 1.14 it reads summary.idx (verified with
// its signature when gpg-verify-summary is on) and the subsummaries of
// those arches when the remote has an index, and the plain summary (+
// summary.sig) otherwise. The Summary returned is the plain one, or the
// merged subsummaries with the index's metadata.
func (i *Installation) FetchSummary(ctx context.Context, name string, arches ...string) (*summary.Summary, map[string]RemoteRef, error) {
	return i.fetchSummary(ctx, name, nil, arches)
}

func (i *Installation) fetchSummary(ctx context.Context, name string, f pull.Fetcher, arches []string) (*summary.Summary, map[string]RemoteRef, error) {
	c, err := i.newSummaryClient(name, f)
	if err != nil {
		return nil, nil, err
	}
	s, ok, err := c.fetchIndexed(ctx, arches)
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		if s, err = c.fetchPlain(ctx); err != nil {
			return nil, nil, err
		}
	}
	return s, refsOf(s), nil
}

// fetchPlain downloads the plain summary and checks summary.sig.
func (c *summaryClient) fetchPlain(ctx context.Context) (*summary.Summary, error) {
	name := c.remote.Name
	data, err := c.get(ctx, summary.FileName)
	if err != nil {
		return nil, fmt.Errorf("fetching summary of %s: %w", name, err)
	}
	if c.remote.GPGVerifySummary {
		sig, err := c.get(ctx, summary.SigFileName)
		if errors.Is(err, pull.ErrNotFound) {
			return nil, fmt.Errorf("remote %q: GPG verification enabled, but no summary signatures found (use gpg-verify-summary=false in remote config to disable): %w", name, sign.ErrNoSignatures)
		}
		if err != nil {
			return nil, fmt.Errorf("fetching summary signature of %s: %w", name, err)
		}
		kr, err := c.keyring()
		if err != nil {
			return nil, err
		}
		if _, err := summary.Verify(data, sig, kr); err != nil {
			return nil, fmt.Errorf("verifying summary of %s: %w", name, err)
		}
	}
	return summary.Parse(data)
}

// refsOf returns the refs of s with their sizes and metadata from each
// ref's xa.data (subsummaries) or the summary's xa.cache, and their
// end-of-life data from each ref's metadata or xa.sparse-cache.
func refsOf(s *summary.Summary) map[string]RemoteRef {
	refs := map[string]RemoteRef{}
	setData := func(rr *RemoteRef, t gvariant.Value) {
		rr.InstalledSize = beUint64(t.Index(0).Uint64())
		rr.DownloadSize = beUint64(t.Index(1).Uint64())
		rr.Metadata = t.Index(2).Str()
	}
	for _, r := range s.Refs {
		rr := RemoteRef{Name: r.Name, Commit: r.Checksum.String()}
		rr.EOL, rr.EOLRebase = sparseStrings(r.Metadata)
		if v, ok := r.Lookup("xa.data"); ok {
			if v = unboxAll(v); v.Type().String() == "(tts)" {
				setData(&rr, v)
			}
		}
		refs[r.Name] = rr
	}
	// perRef calls set for each ref of the summary dictionary key of type typ.
	perRef := func(key, typ string, set func(*RemoteRef, gvariant.Value)) {
		v, ok := s.Lookup(key)
		if !ok {
			return
		}
		if v = unboxAll(v); v.Type().String() != typ {
			return
		}
		for k := 0; k < v.Len(); k++ {
			e := v.Index(k)
			if rr, ok := refs[e.Index(0).Str()]; ok {
				set(&rr, e.Index(1))
				refs[rr.Name] = rr
			}
		}
	}
	perRef("xa.cache", "a{s(tts)}", setData)
	perRef("xa.sparse-cache", "a{sa{sv}}", func(rr *RemoteRef, d gvariant.Value) {
		var es []summary.Entry
		for j := 0; j < d.Len(); j++ {
			es = append(es, summary.Entry{Key: d.Index(j).Index(0).Str(), Value: d.Index(j).Index(1).Unbox()})
		}
		rr.EOL, rr.EOLRebase = sparseStrings(es)
	})
	return refs
}

func unboxAll(v gvariant.Value) gvariant.Value {
	for v.Type().String() == "v" {
		v = v.Unbox()
	}
	return v
}

// sparseStrings returns the eol and eolr strings of a ref's metadata.
func sparseStrings(es []summary.Entry) (eol, eolr string) {
	for _, e := range es {
		v := e.Value
		if v.Type().String() != "s" {
			continue
		}
		switch e.Key {
		case "eol":
			eol = v.Str()
		case "eolr":
			eolr = v.Str()
		}
	}
	return eol, eolr
}
