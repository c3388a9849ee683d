package pull

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/porthole-dev/porthole/store"
	"github.com/porthole-dev/porthole/store/object"
	"github.com/porthole-dev/porthole/store/sign"
	"github.com/porthole-dev/porthole/store/summary"
)

// Sentinel errors of a pull.
var (
	// ErrRefBinding: the commit's ostree.ref-binding does not list the ref.
	ErrRefBinding = errors.New("commit is not bound to the requested ref")
	// ErrRemoteMode: the remote is not an archive repository.
	ErrRemoteMode = errors.New("remote is not an archive repository")
	// ErrNoRef: the remote does not have the requested ref.
	ErrNoRef = errors.New("no such ref on the remote")
)

// Progress receives counts as objects are discovered and stored; it is
// called from many goroutines (*progress.Bar satisfies it).
type Progress interface {
	AddTotal(n int64)
	Add(n, size int64)
}

// Options tune Pull.
type Options struct {
	// Depth is how many parent commits to pull too; -1 pulls all history.
	Depth int
	// Mirror writes refs/heads/REF instead of refs/remotes/REMOTE/REF, and
	// with no refs given pulls every ref of the summary.
	Mirror bool
	// Progress, if not nil, is told about objects and bytes.
	Progress Progress
	// Fetcher replaces the one made from the remote's url.
	Fetcher Fetcher
	// Workers is the number of objects in flight; 0 means 24.
	Workers int
	// Keyring tunes where the remote's keys are looked for.
	Keyring sign.KeyringOptions
	// FlushInterval is how often stored objects are made durable while
	// pulling, so an interrupted pull keeps them; 0 means 2s.
	FlushInterval time.Duration
	// Deltas, when set, is offered each commit before its objects are
	// fetched one by one (the seam for static deltas; nil means loose
	// objects only).
	Deltas DeltaPuller
	// Commits are the commits of refs already read from a verified
	// summary (Flatpak's summary index), as ostree's override-commit-ids:
	// those refs are not looked up again, and when every ref is here the
	// summary is not fetched.
	Commits map[string]object.Checksum
}

// DeltaPuller fetches and applies a static delta for commit to, starting
// from the local commit from (nil for a scratch delta). It reports false,
// nil when no usable delta exists, so the pull falls back to loose objects.
// Objects it writes must be verified like loose ones; the pull still walks
// the commit afterwards and fetches anything missing.
type DeltaPuller interface {
	PullDelta(ctx context.Context, repo *store.Repo, fetch Fetcher, from *object.Checksum, to object.Checksum) (bool, error)
}

// Result says what a pull did.
type Result struct {
	Refs    map[string]object.Checksum // requested ref (or checksum) → commit
	Fetched int64                      // objects fetched (not counting summary, config, commitmeta)
	Bytes   int64                      // bytes received for them
}

type puller struct {
	repo    *store.Repo
	remote  *Remote
	fetch   Fetcher
	opts    Options
	keyring *sign.Keyring

	fetched, bytes atomic.Int64

	seenMu sync.Mutex
	seen   map[object.ObjectName]bool // scheduled objects → scheduled with rescan
}

type target struct {
	ref    string // "" when pulling by checksum
	commit object.Checksum
}

// maxMetadataSize bounds a fetched metadata object, summary or config.
const maxMetadataSize = 128 << 20

// Pull fetches refs (names, or 64-hex commit checksums) of remote into repo.
func Pull(ctx context.Context, repo *store.Repo, remote string, refs []string, opts Options) (*Result, error) {
	rem, err := LoadRemote(repo, remote)
	if err != nil {
		return nil, err
	}
	p := &puller{repo: repo, remote: rem, opts: opts, fetch: opts.Fetcher, seen: map[object.ObjectName]bool{}}
	if p.fetch == nil {
		if p.fetch, err = newFetcher(rem.URL, HTTPOptions{TLSCAPath: rem.TLSCAPath}); err != nil {
			return nil, err
		}
	}
	if p.opts.Workers <= 0 {
		p.opts.Workers = 24
	}
	if p.opts.FlushInterval <= 0 {
		p.opts.FlushInterval = 2 * time.Second
	}
	if rem.GPGVerify || rem.GPGVerifySummary {
		ko := opts.Keyring
		ko.GPGKeyPath = rem.GPGKeyPath
		if p.keyring, err = sign.RemoteKeyring(repo.Path(), remote, ko); err != nil {
			return nil, fmt.Errorf("loading keyring of remote %q: %w", remote, err)
		}
	}
	var sum *summary.Summary
	if !p.allResolved(refs) {
		if sum, err = p.fetchSummary(ctx); err != nil {
			return nil, err
		}
	}
	if err := p.checkRemoteConfig(ctx); err != nil {
		return nil, err
	}
	targets, err := p.resolve(ctx, sum, refs)
	if err != nil {
		return nil, err
	}

	// Fetch and check every commit first (signatures, ref bindings), so
	// a bad signature stops the pull before any tree is fetched.
	var walk []walkRoot
	for _, t := range targets {
		roots, err := p.pullCommit(ctx, t.commit, t.ref, opts.Depth)
		if err != nil {
			return nil, err
		}
		walk = append(walk, roots...)
	}
	if opts.Deltas != nil {
		for i, w := range walk {
			var from *object.Checksum
			if t, ok := p.localHead(ctx, targets, w.commit); ok {
				from = &t
			}
			used, err := opts.Deltas.PullDelta(ctx, repo, p.fetch, from, w.commit)
			if err != nil {
				return nil, fmt.Errorf("static delta to %s: %w", w.commit, err)
			}
			if used {
				walk[i].rescan = true // make sure the delta left nothing out
			}
		}
	}
	if err := p.walkTrees(ctx, walk); err != nil {
		// Keep what was verified and stored, so a rerun resumes from it.
		repo.Flush(context.WithoutCancel(ctx))
		return nil, err
	}
	if err := repo.Flush(ctx); err != nil {
		return nil, err
	}
	for _, w := range walk {
		if err := repo.ClearCommitPartial(ctx, w.commit); err != nil {
			return nil, err
		}
	}
	res := &Result{Refs: map[string]object.Checksum{}, Fetched: p.fetched.Load(), Bytes: p.bytes.Load()}
	for _, t := range targets {
		key := t.ref
		if key == "" {
			key = t.commit.String()
			res.Refs[key] = t.commit
			continue
		}
		res.Refs[key] = t.commit
		c := t.commit
		owner := remote
		if opts.Mirror {
			owner = ""
		}
		if err := repo.SetRef(ctx, owner, t.ref, &c); err != nil {
			return nil, fmt.Errorf("setting ref %s: %w", t.ref, err)
		}
	}
	return res, nil
}

// localHead returns the commit the local ref for commit's target points
// at, the natural "from" of a delta.
func (p *puller) localHead(ctx context.Context, targets []target, commit object.Checksum) (object.Checksum, bool) {
	for _, t := range targets {
		if t.commit != commit || t.ref == "" {
			continue
		}
		owner := p.remote.Name
		if p.opts.Mirror {
			owner = ""
		}
		refs, err := p.repo.ListRefs(ctx, owner)
		if err != nil {
			return object.Checksum{}, false
		}
		c, ok := refs[t.ref]
		if ok {
			if partial, _ := p.repo.IsCommitPartial(ctx, c); !partial {
				return c, true
			}
		}
	}
	return object.Checksum{}, false
}

// fetchFile reads a whole (small) remote file.
func (p *puller) fetchFile(ctx context.Context, path string) ([]byte, error) {
	rc, err := p.fetch.Fetch(ctx, path)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxMetadataSize+1))
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", path, err)
	}
	if len(data) > maxMetadataSize {
		return nil, fmt.Errorf("fetching %s: larger than %d bytes", path, maxMetadataSize)
	}
	return data, nil
}

// fetchOptional is fetchFile with a missing file giving nil, nil.
func (p *puller) fetchOptional(ctx context.Context, path string) ([]byte, error) {
	data, err := p.fetchFile(ctx, path)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	return data, err
}

func (p *puller) cachePaths() (sumPath, sigPath string) {
	dir := filepath.Join(p.repo.Path(), "tmp", "cache", "summaries")
	return filepath.Join(dir, p.remote.Name), filepath.Join(dir, p.remote.Name+".sig")
}

// fetchSummary gets summary.sig then summary (reusing the cached summary
// when the signature is unchanged), verifies it when gpg-verify-summary is
// on, and updates the cache. It returns nil when the remote has none and
// verification is off.
func (p *puller) fetchSummary(ctx context.Context) (*summary.Summary, error) {
	sig, err := p.fetchOptional(ctx, summary.SigFileName)
	if err != nil {
		return nil, err
	}
	if p.remote.GPGVerifySummary && sig == nil {
		return nil, fmt.Errorf("remote %q: GPG verification enabled, but no summary signatures found (use gpg-verify-summary=false in remote config to disable): %w", p.remote.Name, sign.ErrNoSignatures)
	}
	sumPath, sigPath := p.cachePaths()
	var data []byte
	if sig != nil {
		if cached, err := os.ReadFile(sigPath); err == nil && bytes.Equal(cached, sig) {
			data, _ = os.ReadFile(sumPath)
		}
	}
	if data == nil {
		if data, err = p.fetchOptional(ctx, summary.FileName); err != nil {
			return nil, err
		}
	}
	if data == nil {
		if p.remote.GPGVerifySummary {
			return nil, fmt.Errorf("remote %q: GPG verification enabled, but the remote has no summary: %w", p.remote.Name, ErrNotFound)
		}
		return nil, nil
	}
	if p.remote.GPGVerifySummary {
		if _, err := summary.Verify(data, sig, p.keyring); err != nil {
			return nil, fmt.Errorf("remote %q: verifying summary: %w", p.remote.Name, err)
		}
	}
	s, err := summary.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("remote %q: %w", p.remote.Name, err)
	}
	if err := os.MkdirAll(filepath.Dir(sumPath), 0o755); err == nil {
		writeFile(sumPath, data)
		if sig != nil {
			writeFile(sigPath, sig)
		} else {
			os.Remove(sigPath)
		}
	}
	return s, nil
}

// writeFile replaces path atomically; errors are ignored (it is a cache).
func writeFile(path string, data []byte) {
	tmp := path + ".tmp"
	if os.WriteFile(tmp, data, 0o644) == nil {
		os.Rename(tmp, path)
	}
}

// checkRemoteConfig fetches the remote's config and refuses non-archive modes.
func (p *puller) checkRemoteConfig(ctx context.Context) error {
	data, err := p.fetchFile(ctx, "config")
	if err != nil {
		return fmt.Errorf("remote %q: fetching config: %w", p.remote.Name, err)
	}
	cfg, err := store.ParseConfig(data)
	if err != nil {
		return fmt.Errorf("remote %q: parsing config: %w", p.remote.Name, err)
	}
	mode, _ := cfg.Value("core", "mode")
	if mode != "archive-z2" && mode != "archive" {
		return fmt.Errorf("remote %q: can't pull from archives with mode %q: %w", p.remote.Name, mode, ErrRemoteMode)
	}
	return nil
}

// allResolved reports whether every ref has its commit in opts.Commits.
func (p *puller) allResolved(refs []string) bool {
	if len(refs) == 0 {
		return false
	}
	for _, r := range refs {
		if _, ok := p.opts.Commits[r]; !ok {
			return false
		}
	}
	return true
}

func (p *puller) resolve(ctx context.Context, s *summary.Summary, refs []string) ([]target, error) {
	if len(refs) == 0 {
		if !p.opts.Mirror || s == nil {
			return nil, errors.New("no refs to pull")
		}
		for _, r := range s.Refs {
			refs = append(refs, r.Name)
		}
	}
	var out []target
	for _, ref := range refs {
		if c, err := object.ParseChecksum(ref); err == nil && len(ref) == 64 {
			out = append(out, target{commit: c})
			continue
		}
		if err := object.ValidateRef(ref); err != nil {
			return nil, err
		}
		if c, ok := p.opts.Commits[ref]; ok {
			out = append(out, target{ref: ref, commit: c})
			continue
		}
		if s != nil {
			r, ok := s.Ref(ref)
			if !ok {
				return nil, fmt.Errorf("remote %q: no such branch %q in the repository summary: %w", p.remote.Name, ref, ErrNoRef)
			}
			out = append(out, target{ref: ref, commit: r.Checksum})
			continue
		}
		data, err := p.fetchFile(ctx, "refs/heads/"+ref)
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("remote %q: no such ref %q: %w", p.remote.Name, ref, ErrNoRef)
		}
		if err != nil {
			return nil, err
		}
		c, err := object.ParseChecksum(strings.TrimSpace(string(data)))
		if err != nil {
			return nil, fmt.Errorf("remote %q: ref %q: %w", p.remote.Name, ref, err)
		}
		out = append(out, target{ref: ref, commit: c})
	}
	return out, nil
}

func objectPath(n object.ObjectName) string { return "objects/" + n.LoosePath(true) }

// walkRoot is the tree of one commit to walk.
type walkRoot struct {
	commit object.Checksum
	tree   object.Checksum
	meta   object.Checksum
	rescan bool // the commit was partial: recurse into stored dirtrees
}

// pullCommit gets, verifies and stores one commit (and, with depth, its
// parents) and returns the trees to walk.
func (p *puller) pullCommit(ctx context.Context, c object.Checksum, ref string, depth int) ([]walkRoot, error) {
	name := object.ObjectName{Checksum: c, Type: object.TypeCommit}
	have, err := p.repo.HasObject(ctx, name)
	if err != nil {
		return nil, err
	}
	partial := false
	if have {
		if partial, err = p.repo.IsCommitPartial(ctx, c); err != nil {
			return nil, err
		}
	}
	var detached []byte
	if !have || partial {
		if detached, err = p.fetchOptional(ctx, "objects/"+object.ObjectName{Checksum: c, Type: object.TypeCommitMeta}.LoosePath(true)); err != nil {
			return nil, err
		}
	} else if p.remote.GPGVerify {
		if detached, err = p.repo.ReadCommitMeta(ctx, c); errors.Is(err, store.ErrObjectNotFound) {
			detached, err = p.fetchOptional(ctx, "objects/"+object.ObjectName{Checksum: c, Type: object.TypeCommitMeta}.LoosePath(true))
		}
		if err != nil {
			return nil, err
		}
	}
	var data []byte
	if have {
		if data, err = p.repo.ReadMetadata(ctx, object.TypeCommit, c); err != nil {
			return nil, err
		}
	} else {
		if data, err = p.fetchFile(ctx, objectPath(name)); err != nil {
			return nil, fmt.Errorf("fetching commit %s: %w", c, err)
		}
		p.fetched.Add(1)
		p.bytes.Add(int64(len(data)))
		if got := object.Sum(data); got != c {
			return nil, fmt.Errorf("fetching %s: %w", objectPath(name), &store.ChecksumMismatchError{Object: name, Got: got})
		}
	}
	if p.remote.GPGVerify {
		sigs, err := sign.Signatures(detached)
		if err != nil {
			return nil, fmt.Errorf("commit %s: reading detached metadata: %w", c, err)
		}
		if len(sigs) == 0 {
			return nil, fmt.Errorf("commit %s: GPG verification enabled, but no signatures found (use gpg-verify=false in remote config to disable): %w", c, sign.ErrNoSignatures)
		}
		if err := sign.RequireValid(p.keyring.Verify(data, sigs, sign.VerifyOptions{})); err != nil {
			return nil, fmt.Errorf("commit %s: %w", c, err)
		}
	}
	commit, err := object.UnmarshalCommit(data)
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", c, err)
	}
	if ref != "" {
		if err := checkRefBinding(&commit, c, ref); err != nil {
			return nil, err
		}
	}
	if !have {
		if _, err := p.repo.WriteMetadata(ctx, object.TypeCommit, data, &c); err != nil {
			return nil, fmt.Errorf("storing commit %s: %w", c, err)
		}
	}
	if detached != nil && (!have || partial) {
		if err := p.repo.WriteCommitMeta(ctx, c, detached); err != nil {
			return nil, err
		}
	}
	var roots []walkRoot
	if !have || partial {
		if err := p.repo.MarkCommitPartial(ctx, c); err != nil {
			return nil, err
		}
		if err := p.repo.Flush(ctx); err != nil {
			return nil, err
		}
		roots = append(roots, walkRoot{commit: c, tree: commit.RootTree, meta: commit.RootMeta, rescan: partial})
	}
	if depth != 0 && commit.Parent != nil {
		more, err := p.pullCommit(ctx, *commit.Parent, "", depth-1)
		if errors.Is(err, ErrNotFound) {
			return roots, nil // the remote pruned older history
		}
		if err != nil {
			return nil, err
		}
		roots = append(roots, more...)
	}
	return roots, nil
}

// checkRefBinding enforces ostree.ref-binding when the commit has it.
func checkRefBinding(commit *object.Commit, c object.Checksum, ref string) error {
	e, ok := commit.Metadata.Lookup("ostree.ref-binding")
	if !ok {
		return nil
	}
	v, err := e.Variant()
	if err != nil || v.Type().String() != "as" {
		return fmt.Errorf("commit %s: malformed ostree.ref-binding: %w", c, ErrRefBinding)
	}
	bound := v.StringSlice()
	for _, b := range bound {
		if b == ref {
			return nil
		}
	}
	return fmt.Errorf("commit %s: requested ref %q is not in its ref binding %q: %w", c, ref, bound, ErrRefBinding)
}
