package installation

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/porthole-dev/porthole/internal/gvariant"
	"github.com/porthole-dev/porthole/store/pull"
	"github.com/porthole-dev/porthole/store/sign"
	"github.com/porthole-dev/porthole/store/summary"
)

// Files of an indexed summary (Flatpak 1.14).
const (
	IndexFile    = "summary.idx"
	IndexSigFile = "summary.idx.sig"
	SummariesDir = "summaries"
)

// ErrSummaryDigest: a subsummary does not hash to the digest the index
// names.
var ErrSummaryDigest = errors.New("indexed summary does not match the digest in summary.idx")

// indexType is summary.idx: subsummary name → (digest, older digests,
// metadata), and the repository's metadata.
var indexType = gvariant.MustType("(a{s(ayaaya{sv})}a{sv})")

// maxSummarySize bounds a downloaded index, subsummary or delta.
const maxSummarySize = 64 << 20

type subsummary struct {
	digest  [32]byte
	history [][32]byte
}

type summaryIndex struct {
	subs     map[string]subsummary
	metadata []summary.Entry
}

func parseIndex(data []byte) (*summaryIndex, error) {
	v, err := gvariant.Unmarshal(indexType, data)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", IndexFile, err)
	}
	ix := &summaryIndex{subs: map[string]subsummary{}}
	m := v.Index(0)
	for k := 0; k < m.Len(); k++ {
		e := m.Index(k)
		t := e.Index(1)
		d := t.Index(0).ByteSlice()
		if len(d) != 32 {
			return nil, fmt.Errorf("reading %s: digest of %d bytes", IndexFile, len(d))
		}
		var s subsummary
		copy(s.digest[:], d)
		h := t.Index(1)
		for j := 0; j < h.Len(); j++ {
			if old := h.Index(j).ByteSlice(); len(old) == 32 {
				var o [32]byte
				copy(o[:], old)
				s.history = append(s.history, o)
			}
		}
		ix.subs[e.Index(0).Str()] = s
	}
	md := v.Index(1)
	for k := 0; k < md.Len(); k++ {
		e := md.Index(k)
		ix.metadata = append(ix.metadata, summary.Entry{Key: e.Index(0).Str(), Value: e.Index(1).Unbox()})
	}
	return ix, nil
}

// summaryClient fetches a remote's summary files, caching them under
// repo/tmp/cache/summaries as Flatpak does: REMOTE.idx, REMOTE.idx.sig and
// REMOTE-ARCH-DIGEST.sub (not for file: remotes).
type summaryClient struct {
	inst   *Installation
	remote *pull.Remote
	fetch  pull.Fetcher
	cache  string // "" when nothing is cached
	subset string // xa.subset: read SUBSET-ARCH subsummaries only
}

func (i *Installation) newSummaryClient(name string, f pull.Fetcher) (*summaryClient, error) {
	rem, err := pull.LoadRemote(i.repo, name)
	if err != nil {
		return nil, err
	}
	if f == nil {
		if f, err = pull.NewFetcher(rem.URL); err != nil {
			return nil, err
		}
	}
	c := &summaryClient{inst: i, remote: rem, fetch: f}
	c.subset, _ = i.repo.ConfigValue(remoteGroup(name), "xa.subset")
	if !strings.HasPrefix(rem.URL, "file:") {
		c.cache = filepath.Join(i.repo.Path(), "tmp", "cache", "summaries")
	}
	return c, nil
}

func (c *summaryClient) get(ctx context.Context, p string) ([]byte, error) {
	rc, err := c.fetch.Fetch(ctx, p)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxSummarySize+1))
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", p, err)
	}
	if len(data) > maxSummarySize {
		return nil, fmt.Errorf("fetching %s: larger than %d bytes", p, maxSummarySize)
	}
	return data, nil
}

func (c *summaryClient) readCache(name string) []byte {
	if c.cache == "" {
		return nil
	}
	data, _ := os.ReadFile(filepath.Join(c.cache, name))
	return data
}

func (c *summaryClient) writeCache(name string, data []byte) {
	if c.cache == "" || os.MkdirAll(c.cache, 0o755) != nil {
		return
	}
	p := filepath.Join(c.cache, name)
	if os.WriteFile(p+".tmp", data, 0o644) == nil {
		os.Rename(p+".tmp", p)
	}
}

func (c *summaryClient) keyring() (*sign.Keyring, error) {
	return sign.RemoteKeyring(c.inst.repo.Path(), c.remote.Name, sign.KeyringOptions{GPGKeyPath: c.remote.GPGKeyPath})
}

// index returns the remote's verified summary.idx, or nil, nil when the
// remote has none.
func (c *summaryClient) index(ctx context.Context) (*summaryIndex, error) {
	name := c.remote.Name
	data, err := c.get(ctx, IndexFile)
	if errors.Is(err, pull.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("fetching %s of %s: %w", IndexFile, name, err)
	}
	verify := c.remote.GPGVerifySummary
	cached := c.readCache(name + ".idx")
	cachedSig := c.readCache(name + ".idx.sig")
	reuse := cached != nil && bytes.Equal(cached, data) && (!verify || cachedSig != nil)
	if verify && !reuse {
		d := sha256.Sum256(data)
		sig, err := c.get(ctx, SummariesDir+"/"+hex.EncodeToString(d[:])+".idx.sig")
		if errors.Is(err, pull.ErrNotFound) {
			sig, err = c.get(ctx, IndexSigFile)
		}
		if errors.Is(err, pull.ErrNotFound) {
			return nil, fmt.Errorf("remote %q: GPG verification enabled, but no summary signatures found (use gpg-verify-summary=false in remote config to disable): %w", name, sign.ErrNoSignatures)
		}
		if err != nil {
			return nil, fmt.Errorf("fetching summary index signature of %s: %w", name, err)
		}
		kr, err := c.keyring()
		if err != nil {
			return nil, err
		}
		if _, err := summary.Verify(data, sig, kr); err != nil {
			return nil, fmt.Errorf("verifying summary index of %s: %w", name, err)
		}
		c.writeCache(name+".idx.sig", sig)
	}
	if !reuse {
		c.writeCache(name+".idx", data)
	}
	return parseIndex(data)
}

// arches maps each arch to its subsummary in ix: "ARCH" entries, or
// "SUBSET-ARCH" ones when the remote has a subset.
func (c *summaryClient) arches(ix *summaryIndex) map[string]subsummary {
	out := map[string]subsummary{}
	for name, s := range ix.subs {
		subset, arch, ok := strings.Cut(name, "-")
		if !ok {
			subset, arch = "", name
		}
		if subset == c.subset {
			out[arch] = s
		}
	}
	return out
}

// subsummary returns the verified subsummary s of arch: from the cache, by
// applying a summary delta to a cached older one, or from DIGEST.gz.
func (c *summaryClient) subsummary(ctx context.Context, s subsummary, arch string) ([]byte, error) {
	want := hex.EncodeToString(s.digest[:])
	prefix := c.remote.Name + "-" + arch + "-"
	matches := func(data []byte) bool { return data != nil && sha256.Sum256(data) == s.digest }
	if data := c.readCache(prefix + want + ".sub"); matches(data) {
		return data, nil
	}
	var data []byte
	for _, h := range s.history {
		old := c.readCache(prefix + hex.EncodeToString(h[:]) + ".sub")
		if old == nil || sha256.Sum256(old) != h {
			continue
		}
		delta, err := c.get(ctx, SummariesDir+"/"+hex.EncodeToString(h[:])+"-"+want+".delta")
		if err == nil {
			if applied, err := ApplySummaryDiff(old, delta); err == nil && matches(applied) {
				data = applied
			}
		}
		break
	}
	if data == nil {
		gz, err := c.get(ctx, SummariesDir+"/"+want+".gz")
		if err != nil {
			return nil, fmt.Errorf("fetching indexed summary %s of %s: %w", want, c.remote.Name, err)
		}
		if data, err = gunzip(gz); err != nil {
			return nil, fmt.Errorf("reading indexed summary %s of %s: %w", want, c.remote.Name, err)
		}
		if !matches(data) {
			return nil, fmt.Errorf("indexed summary %s of remote %s: %w", want, c.remote.Name, ErrSummaryDigest)
		}
	}
	c.writeCache(prefix+want+".sub", data)
	c.gcSubsummaries(prefix, prefix+want+".sub")
	return data, nil
}

// gcSubsummaries keeps, for one remote and arch, the subsummary just
// written (a delta base next time) and drops older ones.
func (c *summaryClient) gcSubsummaries(prefix, keep string) {
	if c.cache == "" {
		return
	}
	ents, _ := os.ReadDir(c.cache)
	for _, e := range ents {
		n := e.Name()
		if n != keep && strings.HasPrefix(n, prefix) && strings.HasSuffix(n, ".sub") &&
			len(strings.TrimSuffix(strings.TrimPrefix(n, prefix), ".sub")) == 64 {
			os.Remove(filepath.Join(c.cache, n))
		}
	}
}

func gunzip(data []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	out, err := io.ReadAll(io.LimitReader(zr, maxSummarySize+1))
	if err != nil {
		return nil, err
	}
	if len(out) > maxSummarySize {
		return nil, fmt.Errorf("larger than %d bytes", maxSummarySize)
	}
	return out, nil
}

// Summary diff ("xadf"): gzip of the magic, a LE op count, LE ops
// (kind<<28 | size: 0 copy old, 1 skip old, 2 copy data) and the data.
var errBadDiff = errors.New("invalid summary diff")

// ApplySummaryDiff applies a summaries/FROM-TO.delta to the FROM
// subsummary.
func ApplySummaryDiff(old, delta []byte) ([]byte, error) {
	d, err := gunzip(delta)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errBadDiff, err)
	}
	if len(d) < 8 || string(d[:4]) != "xadf" {
		return nil, errBadDiff
	}
	n := uint64(binary.LittleEndian.Uint32(d[4:8]))
	if 8+4*n > uint64(len(d)) {
		return nil, errBadDiff
	}
	ops, data := d[8:8+4*n], d[8+4*n:]
	var out []byte
	for k := uint64(0); k < n; k++ {
		op := binary.LittleEndian.Uint32(ops[4*k:])
		size := int(op & 0x0fffffff)
		switch op >> 28 {
		case 0, 1:
			if size > len(old) {
				return nil, errBadDiff
			}
			if op>>28 == 0 {
				out = append(out, old[:size]...)
			}
			old = old[size:]
		case 2:
			if size > len(data) {
				return nil, errBadDiff
			}
			out = append(out, data[:size]...)
			data = data[size:]
		default:
			return nil, errBadDiff
		}
		if len(out) > maxSummarySize {
			return nil, errBadDiff
		}
	}
	return out, nil
}

// fetchIndexed reads the refs of arches (all when empty) through the
// remote's summary.idx; ok is false when the remote has no index.
func (c *summaryClient) fetchIndexed(ctx context.Context, arches []string) (*summary.Summary, bool, error) {
	ix, err := c.index(ctx)
	if err != nil || ix == nil {
		return nil, false, err
	}
	subs := c.arches(ix)
	var names []string
	if len(arches) == 0 {
		for n := range subs {
			names = append(names, n)
		}
	} else {
		for _, a := range arches {
			if _, ok := subs[a]; ok {
				names = append(names, a)
			}
		}
	}
	sort.Strings(names)
	out := &summary.Summary{Metadata: ix.metadata}
	for _, n := range names {
		data, err := c.subsummary(ctx, subs[n], n)
		if err != nil {
			return nil, true, err
		}
		s, err := summary.Parse(data)
		if err != nil {
			return nil, true, fmt.Errorf("indexed summary %s of %s: %w", n, c.remote.Name, err)
		}
		out.Refs = append(out.Refs, s.Refs...)
	}
	sort.Slice(out.Refs, func(a, b int) bool { return out.Refs[a].Name < out.Refs[b].Name })
	return out, true, nil
}
