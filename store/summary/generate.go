package summary

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/porthole-dev/porthole/internal/gvariant"
	"github.com/porthole-dev/porthole/store"
	"github.com/porthole-dev/porthole/store/object"
	"github.com/porthole-dev/porthole/store/sign"
)

// File names at the repository root.
const (
	FileName    = "summary"
	SigFileName = "summary.sig"
)

// Signer makes one detached signature over data (sign.Signer is one).
type Signer interface {
	Sign(ctx context.Context, data []byte) ([]byte, error)
}

// Options tune Generate.
type Options struct {
	// Metadata is added after the standard keys; a key the generator
	// writes itself keeps the generator's value.
	Metadata []Entry
	// Signers sign the new summary; with none, a stale summary.sig is
	// removed (like ostree).
	Signers []Signer
	// Now is the last-modified time; zero means time.Now().
	Now time.Time
}

// Build computes the summary of repo without writing anything.
func Build(ctx context.Context, repo *store.Repo, opts Options) (*Summary, error) {
	heads, err := repo.ListRefs(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("listing refs: %w", err)
	}
	refs, err := refEntries(ctx, repo, heads)
	if err != nil {
		return nil, err
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	mode := repo.Mode().String()
	if repo.Mode() == store.ModeArchive {
		mode = "archive-z2"
	}
	tomb, _ := repo.ConfigValue("core", "tombstone-commits")
	meta := []Entry{
		{KeyMode, gvariant.String(mode)},
		{KeyLastModified, BEUint64(uint64(now.Unix()))},
		{KeyTombstone, gvariant.Bool(tomb == "true")},
	}
	deltas, err := staticDeltas(repo.Path())
	if err != nil {
		return nil, err
	}
	if len(deltas) > 0 {
		meta = append(meta, Entry{KeyStaticDeltas, dict(deltas)})
	}
	meta = append(meta, Entry{KeyIndexedDeltas, gvariant.Bool(true)})
	if cid, ok := repo.ConfigValue("core", "collection-id"); ok && cid != "" {
		meta = append(meta, Entry{KeyCollectionID, gvariant.String(cid)})
		mirrors, err := repo.ListMirrorRefs(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing mirror refs: %w", err)
		}
		byID := map[string]map[string]object.Checksum{}
		for k, c := range mirrors {
			id, ref, _ := strings.Cut(k, ":")
			if id == cid {
				continue
			}
			if byID[id] == nil {
				byID[id] = map[string]object.Checksum{}
			}
			byID[id][ref] = c
		}
		if len(byID) > 0 {
			m := map[string][]Ref{}
			for id, rs := range byID {
				if m[id], err = refEntries(ctx, repo, rs); err != nil {
					return nil, err
				}
			}
			meta = append(meta, Entry{KeyCollectionMap, CollectionMapValue(m)})
		}
	}
	for _, e := range opts.Metadata {
		if _, exists := lookup(meta, e.Key); !exists {
			meta = append(meta, e)
		}
	}
	return &Summary{Refs: refs, Metadata: meta}, nil
}

func refEntries(ctx context.Context, repo *store.Repo, refs map[string]object.Checksum) ([]Ref, error) {
	out := make([]Ref, 0, len(refs))
	for name, c := range refs {
		data, err := repo.ReadMetadata(ctx, object.TypeCommit, c)
		if err != nil {
			return nil, fmt.Errorf("reading commit %s of ref %s: %w", c, name, err)
		}
		commit, err := object.UnmarshalCommit(data)
		if err != nil {
			return nil, fmt.Errorf("reading commit %s of ref %s: %w", c, name, err)
		}
		r := Ref{Name: name, CommitSize: uint64(len(data)), Checksum: c}
		if e, ok := commit.Metadata.Lookup("version"); ok && e.Type == "s" {
			if v, err := e.Variant(); err == nil {
				r.Metadata = append(r.Metadata, Entry{KeyCommitVersion, v})
			}
		}
		r.Metadata = append(r.Metadata, Entry{KeyCommitTimestamp, BEUint64(commit.Timestamp)})
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// staticDeltas lists deltas/<XX>/<rest>/superblock as delta name → sha256 of
// the superblock (ay), names being "TO" or "FROM-TO" in hex.
func staticDeltas(repoDir string) ([]Entry, error) {
	var out []Entry
	base := filepath.Join(repoDir, "deltas")
	prefixes, err := os.ReadDir(base)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing static deltas: %w", err)
	}
	for _, p := range prefixes {
		if !p.IsDir() {
			continue
		}
		rests, err := os.ReadDir(filepath.Join(base, p.Name()))
		if err != nil {
			return nil, fmt.Errorf("listing static deltas: %w", err)
		}
		for _, r := range rests {
			sb, err := os.ReadFile(filepath.Join(base, p.Name(), r.Name(), "superblock"))
			if err != nil {
				continue
			}
			name, ok := deltaName(p.Name() + r.Name())
			if !ok {
				continue
			}
			sum := sha256.Sum256(sb)
			out = append(out, Entry{name, gvariant.Bytes(sum[:])})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// deltaName turns the modified-base64 path of a delta ("TO" or "FROM-TO",
// '/' written as '_') into its hex name.
func deltaName(mb64 string) (string, bool) {
	from, to, hasFrom := strings.Cut(mb64, "-")
	if !hasFrom {
		to, from = from, ""
	}
	dec := func(s string) (string, bool) {
		b, err := base64.RawStdEncoding.DecodeString(strings.ReplaceAll(s, "_", "/"))
		if err != nil || len(b) != 32 {
			return "", false
		}
		return hex.EncodeToString(b), true
	}
	t, ok := dec(to)
	if !ok {
		return "", false
	}
	if !hasFrom {
		return t, true
	}
	f, ok := dec(from)
	if !ok {
		return "", false
	}
	return f + "-" + t, true
}

// Generate writes repo's summary (atomically) and, with signers, its
// summary.sig; without signers a stale summary.sig is removed. Like
// `ostree summary -u` it also sets core.indexed-deltas=true.
func Generate(ctx context.Context, repo *store.Repo, opts Options) (*Summary, error) {
	s, err := Build(ctx, repo, opts)
	if err != nil {
		return nil, err
	}
	data := s.Marshal()
	var sig []byte
	for _, signer := range opts.Signers {
		one, err := signer.Sign(ctx, data)
		if err != nil {
			return nil, fmt.Errorf("signing summary: %w", err)
		}
		if sig, err = sign.AppendSignature(sig, one); err != nil {
			return nil, err
		}
	}
	if v, _ := repo.ConfigValue("core", "indexed-deltas"); v != "true" {
		if err := repo.UpdateConfig(func(cfg *store.Config) error {
			cfg.SetValue("core", "indexed-deltas", "true")
			return nil
		}); err != nil {
			return nil, fmt.Errorf("updating config: %w", err)
		}
	}
	dir := repo.Path()
	if err := writeAtomic(filepath.Join(dir, FileName), data); err != nil {
		return nil, err
	}
	if sig != nil {
		if err := writeAtomic(filepath.Join(dir, SigFileName), sig); err != nil {
			return nil, err
		}
	} else if err := os.Remove(filepath.Join(dir, SigFileName)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("removing stale %s: %w", SigFileName, err)
	}
	return s, nil
}

// AddSignature signs the existing summary of the repository at dir and adds
// the signature to summary.sig (ostree summary --gpg-sign without -u).
func AddSignature(ctx context.Context, dir string, signer Signer) error {
	data, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		return fmt.Errorf("reading summary: %w", err)
	}
	one, err := signer.Sign(ctx, data)
	if err != nil {
		return fmt.Errorf("signing summary: %w", err)
	}
	old, err := os.ReadFile(filepath.Join(dir, SigFileName))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("reading %s: %w", SigFileName, err)
	}
	sig, err := sign.AppendSignature(old, one)
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(dir, SigFileName), sig)
}

// Verify checks summary.sig (sigData) over the summary bytes against kr and
// returns the per-signature results, with an error unless one is valid.
func Verify(data, sigData []byte, kr *sign.Keyring) ([]sign.Result, error) {
	sigs, err := sign.Signatures(sigData)
	if err != nil {
		return nil, err
	}
	rs := kr.Verify(data, sigs, sign.VerifyOptions{})
	return rs, sign.RequireValid(rs)
}

func writeAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", filepath.Base(path), err)
	}
	defer os.Remove(f.Name())
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", filepath.Base(path), err)
	}
	return nil
}
