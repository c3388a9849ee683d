package installation

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/porthole-dev/porthole/internal/gvariant"
	"github.com/porthole-dev/porthole/runtime/metadata"
	"github.com/porthole-dev/porthole/runtime/ref"
	"github.com/porthole-dev/porthole/store"
	"github.com/porthole-dev/porthole/store/object"
)

// Errors.
var (
	ErrNotInstalled     = errors.New("not installed")
	ErrAlreadyInstalled = errors.New("already installed")
	ErrMetadataMismatch = errors.New("deployed metadata does not match the commit's xa.metadata")
	ErrNoRemote         = errors.New("remote not found")
	ErrInUse            = errors.New("runtime is used by an installed app")
)

// DeployType is the GVariant type of the deploy file.
var DeployType = gvariant.MustType("(ssasta{sv})")

// Installation is one installation directory.
type Installation struct {
	Dir  string
	Name string // "user", "system" or a custom name
	repo *store.Repo
}

// Open opens (creating if needed) the installation at dir.
func Open(ctx context.Context, dir, name string) (*Installation, error) {
	rdir := filepath.Join(dir, "repo")
	repo, err := store.Open(ctx, rdir)
	if err != nil {
		if _, serr := os.Stat(filepath.Join(rdir, "config")); serr == nil {
			return nil, err
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("cannot create installation: %w", err)
		}
		repo, err = store.Init(ctx, rdir, store.ModeBareUserOnly)
		if err != nil {
			return nil, err
		}
		_ = repo.UpdateConfig(func(c *store.Config) error {
			c.SetValue("core", "min-free-space-size", "500MB")
			return nil
		})
	}
	return &Installation{Dir: dir, Name: name, repo: repo}, nil
}

// Close releases the repository.
func (i *Installation) Close() error { return i.repo.Close() }

// Repo is the installation's repository.
func (i *Installation) Repo() *store.Repo { return i.repo }

// Deployment is an installed ref.
type Deployment struct {
	Ref           ref.Ref
	Commit        string
	Origin        string
	Dir           string // the commit directory
	InstalledSize uint64
	Timestamp     time.Time
	Metadata      *metadata.Metadata
	MetadataBytes []byte
	Subject       string
	// EOL and EOLRebase are the commit's end-of-life reason and the ref
	// that replaces it (deploy file keys eol, eolr).
	EOL, EOLRebase string
}

func (i *Installation) refDir(r ref.Ref) string {
	return filepath.Join(i.Dir, string(r.Kind), r.ID, r.Arch, r.Branch)
}

// Get returns the active deployment of r.
func (i *Installation) Get(r ref.Ref) (*Deployment, error) {
	base := i.refDir(r)
	commit, err := os.Readlink(filepath.Join(base, "active"))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r, ErrNotInstalled)
	}
	cdir := filepath.Join(base, commit)
	data, err := os.ReadFile(filepath.Join(cdir, "deploy"))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r, ErrNotInstalled)
	}
	v, err := gvariant.Unmarshal(DeployType, data)
	if err != nil {
		return nil, fmt.Errorf("reading deploy file of %s: %w", r, err)
	}
	d := &Deployment{Ref: r, Commit: commit, Dir: cdir, Origin: v.Index(0).Str(),
		InstalledSize: beUint64(v.Index(3).Uint64())}
	if ts, ok := v.Index(4).Lookup("timestamp"); ok {
		if ts.Type().String() == "v" {
			ts = ts.Unbox()
		}
		if ts.Type().String() == "t" {
			d.Timestamp = time.Unix(int64(ts.Uint64()), 0)
		}
	}
	for key, dst := range map[string]*string{"eol": &d.EOL, "eolr": &d.EOLRebase} {
		if v, ok := v.Index(4).Lookup(key); ok {
			if v.Type().String() == "v" {
				v = v.Unbox()
			}
			if v.Type().String() == "s" {
				*dst = v.Str()
			}
		}
	}
	if d.MetadataBytes, err = os.ReadFile(filepath.Join(cdir, "metadata")); err == nil {
		d.Metadata, _ = metadata.Parse(d.MetadataBytes)
	}
	return d, nil
}

func beUint64(v uint64) uint64 {
	var out uint64
	for k := 0; k < 8; k++ {
		out = out<<8 | v&0xff
		v >>= 8
	}
	return out
}

// List returns every active deployment, apps then runtimes, sorted.
func (i *Installation) List(kinds ...ref.Kind) ([]*Deployment, error) {
	if len(kinds) == 0 {
		kinds = []ref.Kind{ref.App, ref.Runtime}
	}
	var out []*Deployment
	for _, k := range kinds {
		ids, _ := os.ReadDir(filepath.Join(i.Dir, string(k)))
		for _, id := range ids {
			arches, _ := os.ReadDir(filepath.Join(i.Dir, string(k), id.Name()))
			for _, a := range arches {
				if !a.IsDir() {
					continue
				}
				branches, _ := os.ReadDir(filepath.Join(i.Dir, string(k), id.Name(), a.Name()))
				for _, b := range branches {
					r := ref.Ref{Kind: k, ID: id.Name(), Arch: a.Name(), Branch: b.Name()}
					if r.Validate() != nil {
						continue
					}
					if d, err := i.Get(r); err == nil {
						out = append(out, d)
					}
				}
			}
		}
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].Ref.Kind != out[b].Ref.Kind {
			return out[a].Ref.Kind == ref.App
		}
		return out[a].Ref.String() < out[b].Ref.String()
	})
	return out, nil
}

// Find completes a partial ref against the installed refs.
func (i *Installation) Find(p ref.Partial) (ref.Ref, error) {
	ds, err := i.List()
	if err != nil {
		return ref.Ref{}, err
	}
	names := make([]string, len(ds))
	for k, d := range ds {
		names[k] = d.Ref.String()
	}
	r, err := p.Match(names)
	if errors.Is(err, ref.ErrNoMatch) {
		return r, fmt.Errorf("%s: %w", p.ID, ErrNotInstalled)
	}
	return r, err
}

// commitInfo reads a commit of the installation repository.
func (i *Installation) commitInfo(ctx context.Context, sum object.Checksum) (object.Commit, error) {
	data, err := i.repo.ReadMetadata(ctx, object.TypeCommit, sum)
	if err != nil {
		return object.Commit{}, err
	}
	return object.UnmarshalCommit(data)
}

func metaString(cm object.Commit, key string) (string, bool) {
	e, ok := cm.Metadata.Lookup(key)
	if !ok {
		return "", false
	}
	v, err := e.Variant()
	if err != nil || v.Type().String() != "s" {
		return "", false
	}
	return v.Str(), true
}

func metaUint64(cm object.Commit, key string) uint64 {
	e, ok := cm.Metadata.Lookup(key)
	if !ok {
		return 0
	}
	v, err := e.Variant()
	if err != nil || v.Type().String() != "t" {
		return 0
	}
	return v.Uint64()
}

// History appends one line to DIR/history.
func (i *Installation) logHistory(action string, r ref.Ref, remote, commit string) {
	f, err := os.OpenFile(filepath.Join(i.Dir, "history"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "%s\t%s\t%s\t%s\t%s\t%s\n", time.Now().UTC().Format(time.RFC3339), action, r, remote, commit, i.Name)
}

// HistoryEntry is one line of the history.
type HistoryEntry struct {
	Time                                      time.Time
	Action, Ref, Remote, Commit, Installation string
}

// History returns the logged operations, oldest first.
func (i *Installation) History() ([]HistoryEntry, error) {
	data, err := os.ReadFile(filepath.Join(i.Dir, "history"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []HistoryEntry
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 6 {
			continue
		}
		t, _ := time.Parse(time.RFC3339, f[0])
		out = append(out, HistoryEntry{t, f[1], f[2], f[3], f[4], f[5]})
	}
	return out, nil
}
