package publish

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/porthole-dev/porthole/internal/gvariant"
	"github.com/porthole-dev/porthole/store"
	"github.com/porthole-dev/porthole/store/object"
	"github.com/porthole-dev/porthole/store/sign"
	"github.com/porthole-dev/porthole/store/summary"
)

// Summary keys Flatpak adds.
const (
	KeyCache         = "xa.cache"
	KeySparseCache   = "xa.sparse-cache"
	KeyCacheVersion  = "xa.cache-version"
	KeyTitle         = "xa.title"
	KeyComment       = "xa.comment"
	KeyDescription   = "xa.description"
	KeyHomepage      = "xa.homepage"
	KeyIcon          = "xa.icon"
	KeyRedirectURL   = "xa.redirect-url"
	KeyDefaultBranch = "xa.default-branch"
	KeyGPGKeys       = "xa.gpg-keys"
	KeyData          = "xa.data"
	KeySummaryVer    = "xa.summary-version"
	KeyTimestamp     = "ot.ts"

	IndexFile    = "summary.idx"
	IndexSigFile = "summary.idx.sig"
	SummariesDir = "summaries"
)

// Types of the indexed summary files.
var (
	IndexType   = gvariant.MustType("(a{s(ayaaya{sv})}a{sv})")
	cacheType   = gvariant.MustType("a{s(tts)}")
	historyKeep = 16
)

// UpdateOptions tune UpdateRepo. Empty strings keep what the repository's
// [flatpak] config group already says.
type UpdateOptions struct {
	Title, Comment, Description, Homepage, Icon, RedirectURL, DefaultBranch string
	// GPGImport is public key data to publish as xa.gpg-keys.
	GPGImport []byte
	// Signers sign summary, summary.idx and (with SignCommits) nothing else.
	Signers []summary.Signer
	// NoAppstream skips the appstream branches.
	NoAppstream bool
	// NoIndex skips summary.idx and summaries/.
	NoIndex bool
	// Prune removes objects no ref reaches.
	Prune bool
	Now   time.Time
}

// UpdateRepo regenerates the appstream branches, summary (+ .sig) and the
// indexed summary of the archive repository at dir.
func UpdateRepo(ctx context.Context, dir string, opts UpdateOptions) error {
	repo, err := store.Open(ctx, dir)
	if err != nil {
		return err
	}
	defer repo.Close()
	if err := saveRepoConfig(repo, opts); err != nil {
		return err
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	if !opts.NoAppstream {
		if err := UpdateAppstream(ctx, repo, now, opts.Signers); err != nil {
			return err
		}
	}
	if opts.Prune {
		if _, err := store.Prune(ctx, repo, store.PruneOptions{RefsOnly: true, Depth: -1}); err != nil {
			return err
		}
	}
	cache, entries, err := collectCache(ctx, repo)
	if err != nil {
		return err
	}
	global := globalMetadata(repo)
	meta := append([]summary.Entry{}, global...)
	meta = append(meta, summary.Entry{Key: KeyCache, Value: gvariant.Variant(cache)},
		summary.Entry{Key: KeySparseCache, Value: sparseCache(entries)})
	sum, err := summary.Generate(ctx, repo, summary.Options{Metadata: meta, Signers: opts.Signers, Now: now})
	if err != nil {
		return err
	}
	if opts.NoIndex {
		return nil
	}
	return writeIndex(ctx, dir, sum, entries, opts.Signers)
}

// sparseCache is xa.sparse-cache: ref → {eol, eolr} for the refs that
// have any.
func sparseCache(entries []cacheEntry) gvariant.Value {
	var elems []gvariant.Value
	for _, e := range entries {
		if len(e.sparse) > 0 {
			elems = append(elems, gvariant.DictEntry(gvariant.String(e.ref),
				gvariant.Array(gvariant.MustType("{sv}"), e.sparse...)))
		}
	}
	return gvariant.Array(gvariant.MustType("{sa{sv}}"), elems...)
}

func saveRepoConfig(repo *store.Repo, opts UpdateOptions) error {
	kv := [][2]string{{"title", opts.Title}, {"comment", opts.Comment}, {"description", opts.Description},
		{"homepage", opts.Homepage}, {"icon", opts.Icon}, {"redirect-url", opts.RedirectURL},
		{"default-branch", opts.DefaultBranch}}
	if len(opts.GPGImport) > 0 {
		data, err := dearmor(opts.GPGImport)
		if err != nil {
			return fmt.Errorf("reading --gpg-import keys: %w", err)
		}
		kv = append(kv, [2]string{"gpg-keys", base64.StdEncoding.EncodeToString(data)})
	}
	return repo.UpdateConfig(func(c *store.Config) error {
		for _, e := range kv {
			if e[1] != "" {
				c.SetValue("flatpak", e[0], e[1])
			}
		}
		return nil
	})
}

func globalMetadata(repo *store.Repo) []summary.Entry {
	var out []summary.Entry
	for _, k := range []struct{ cfg, key string }{{"title", KeyTitle}, {"comment", KeyComment},
		{"description", KeyDescription}, {"homepage", KeyHomepage}, {"icon", KeyIcon},
		{"redirect-url", KeyRedirectURL}, {"default-branch", KeyDefaultBranch}} {
		if v, ok := repo.ConfigValue("flatpak", k.cfg); ok && v != "" {
			out = append(out, summary.Entry{Key: k.key, Value: gvariant.String(v)})
		}
	}
	out = append(out, summary.Entry{Key: KeyCacheVersion, Value: gvariant.Uint32(2)})
	if v, ok := repo.ConfigValue("flatpak", "gpg-keys"); ok && v != "" {
		if b, err := base64.StdEncoding.DecodeString(v); err == nil {
			out = append(out, summary.Entry{Key: KeyGPGKeys, Value: gvariant.Bytes(b)})
		}
	}
	return out
}

// cacheEntry is one ref's xa.cache / xa.data value.
type cacheEntry struct {
	ref     string
	commit  object.Checksum
	size    uint64
	ts      uint64
	data    gvariant.Value   // (tts)
	sparse  []gvariant.Value // {sv}: eol, eolr
	subsets []string         // xa.subsets
}

func collectCache(ctx context.Context, repo *store.Repo) (gvariant.Value, []cacheEntry, error) {
	refs, err := repo.ListRefs(ctx, "")
	if err != nil {
		return gvariant.Value{}, nil, err
	}
	names := make([]string, 0, len(refs))
	for n := range refs {
		if strings.HasPrefix(n, "app/") || strings.HasPrefix(n, "runtime/") ||
			strings.HasPrefix(n, "appstream/") || strings.HasPrefix(n, "appstream2/") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var elems []gvariant.Value
	var entries []cacheEntry
	for _, n := range names {
		data, err := repo.ReadMetadata(ctx, object.TypeCommit, refs[n])
		if err != nil {
			return gvariant.Value{}, nil, err
		}
		cm, err := object.UnmarshalCommit(data)
		if err != nil {
			return gvariant.Value{}, nil, err
		}
		var inst, dl uint64
		var md string
		if e, ok := cm.Metadata.Lookup(KeyInstalledSize); ok {
			if v, err := e.Variant(); err == nil && v.Type().String() == "t" {
				inst = swap64(v.Uint64())
			}
		}
		if e, ok := cm.Metadata.Lookup(KeyDownloadSize); ok {
			if v, err := e.Variant(); err == nil && v.Type().String() == "t" {
				dl = swap64(v.Uint64())
			}
		}
		var subsets []string
		if e, ok := cm.Metadata.Lookup(KeySubsets); ok {
			if v, err := e.Variant(); err == nil && v.Type().String() == "as" {
				subsets = v.StringSlice()
			}
		}
		var sparse []gvariant.Value
		for _, k := range [][2]string{{KeyEndOfLife, "eol"}, {KeyEndOfLifeRebase, "eolr"}} {
			if e, ok := cm.Metadata.Lookup(k[0]); ok {
				if v, err := e.Variant(); err == nil && v.Type().String() == "s" {
					sparse = append(sparse, gvariant.DictEntry(gvariant.String(k[1]), gvariant.Variant(v)))
				}
			}
		}
		if e, ok := cm.Metadata.Lookup(KeyMetadata); ok {
			if v, err := e.Variant(); err == nil && v.Type().String() == "s" {
				md = v.Str()
			}
		}
		if strings.HasPrefix(n, "appstream") && inst == 0 {
			inst, dl, _ = TreeSizes(ctx, repo, cm.RootTree)
		}
		val := gvariant.Tuple(summary.BEUint64(inst), summary.BEUint64(dl), gvariant.String(md))
		elems = append(elems, gvariant.DictEntry(gvariant.String(n), val))
		entries = append(entries, cacheEntry{ref: n, commit: refs[n], size: uint64(len(data)), ts: cm.Timestamp, data: val, sparse: sparse, subsets: subsets})
	}
	return gvariant.Array(cacheType.Elem(), elems...), entries, nil
}

// arch of a ref for the subsummary it goes into.
func refArch(name string) string {
	parts := strings.Split(name, "/")
	switch {
	case (parts[0] == "appstream" || parts[0] == "appstream2") && len(parts) == 2:
		return parts[1]
	case len(parts) == 4:
		return parts[2]
	}
	return ""
}

func writeIndex(ctx context.Context, dir string, main *summary.Summary, entries []cacheEntry, signers []summary.Signer) error {
	// One subsummary per arch ("ARCH") and per subset and arch
	// ("SUBSET-ARCH", the refs of that subset).
	byArch := map[string][]cacheEntry{}
	subsets := map[string]bool{}
	for _, e := range entries {
		if a := refArch(e.ref); a != "" {
			byArch[a] = append(byArch[a], e)
		}
		for _, s := range e.subsets {
			if s != "" {
				subsets[s] = true
			}
		}
	}
	for a, es := range byArch {
		for s := range subsets {
			byArch[s+"-"+a] = []cacheEntry{}
			for _, e := range es {
				if slices.Contains(e.subsets, s) {
					byArch[s+"-"+a] = append(byArch[s+"-"+a], e)
				}
			}
		}
	}
	old := readIndexHistory(filepath.Join(dir, IndexFile))
	sumDir := filepath.Join(dir, SummariesDir)
	if err := os.MkdirAll(sumDir, 0o755); err != nil {
		return fmt.Errorf("cannot create %s: %w", sumDir, err)
	}
	keep := map[string]bool{}
	arches := make([]string, 0, len(byArch))
	for a := range byArch {
		arches = append(arches, a)
	}
	sort.Strings(arches)
	var idxElems []gvariant.Value
	subType := summary.Type.Member(0).Elem()
	for _, a := range arches {
		var refs []gvariant.Value
		for _, e := range byArch[a] {
			md := gvariant.Array(gvariant.MustType("{sv}"), append(append([]gvariant.Value{
				gvariant.DictEntry(gvariant.String(KeyData), gvariant.Variant(e.data))}, e.sparse...),
				gvariant.DictEntry(gvariant.String(KeyTimestamp), gvariant.Variant(summary.BEUint64(e.ts))))...)
			refs = append(refs, gvariant.Tuple(gvariant.String(e.ref),
				gvariant.Tuple(gvariant.Uint64(e.size), gvariant.Bytes(e.commit[:]), md)))
		}
		sub := gvariant.Tuple(gvariant.Array(subType, refs...), gvariant.Array(gvariant.MustType("{sv}"),
			gvariant.DictEntry(gvariant.String(KeySummaryVer), gvariant.Variant(gvariant.Uint32(1)))))
		raw := gvariant.Marshal(sub)
		digest := sha256.Sum256(raw)
		dhex := hex.EncodeToString(digest[:])
		keep[dhex+".gz"] = true
		gz := filepath.Join(sumDir, dhex+".gz")
		if _, err := os.Stat(gz); err != nil {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			zw.Write(raw)
			zw.Close()
			if err := writeFile(gz, buf.Bytes()); err != nil {
				return err
			}
		}
		var hist []gvariant.Value
		if prev, ok := old[a]; ok {
			all := append([][]byte{prev.digest}, prev.history...)
			for _, h := range all {
				if len(hist) >= historyKeep || bytes.Equal(h, digest[:]) {
					continue
				}
				hist = append(hist, gvariant.Bytes(h))
				keep[hex.EncodeToString(h)+".gz"] = true
				if d, ok := writeSummaryDiff(sumDir, hex.EncodeToString(h), dhex, raw); ok {
					keep[d] = true
				}
			}
		}
		idxElems = append(idxElems, gvariant.DictEntry(gvariant.String(a), gvariant.Tuple(
			gvariant.Bytes(digest[:]), gvariant.Array(gvariant.MustType("ay"), hist...),
			gvariant.Array(gvariant.MustType("{sv}")))))
	}
	var gm []gvariant.Value
	for _, e := range main.Metadata {
		switch e.Key {
		case KeyCache, KeySparseCache, "ostree.static-deltas":
			continue
		}
		gm = append(gm, gvariant.DictEntry(gvariant.String(e.Key), gvariant.Variant(e.Value)))
	}
	idx := gvariant.Tuple(gvariant.Array(IndexType.Member(0).Elem(), idxElems...),
		gvariant.Array(gvariant.MustType("{sv}"), gm...))
	idxRaw := gvariant.Marshal(idx)
	idxSum := sha256.Sum256(idxRaw)
	idxHex := hex.EncodeToString(idxSum[:])
	var sigData []byte
	for _, s := range signers {
		sig, err := s.Sign(ctx, idxRaw)
		if err != nil {
			return fmt.Errorf("signing %s: %w", IndexFile, err)
		}
		if sigData, err = sign.AppendSignature(sigData, sig); err != nil {
			return err
		}
	}
	if sigData != nil {
		keep[idxHex+".idx.sig"] = true
		if err := writeFile(filepath.Join(sumDir, idxHex+".idx.sig"), sigData); err != nil {
			return err
		}
	}
	if err := writeFile(filepath.Join(dir, IndexFile), idxRaw); err != nil {
		return err
	}
	if sigData != nil {
		if err := writeFile(filepath.Join(dir, IndexSigFile), sigData); err != nil {
			return err
		}
	} else {
		os.Remove(filepath.Join(dir, IndexSigFile))
	}
	ents, _ := os.ReadDir(sumDir)
	for _, e := range ents {
		if !keep[e.Name()] {
			os.Remove(filepath.Join(sumDir, e.Name()))
		}
	}
	return nil
}

// writeSummaryDiff writes summaries/FROM-TO.delta (Flatpak's "xadf"
// format: ops copy-old, skip-old, data) turning the subsummary FROM,
// still present as FROM.gz, into new; it returns the file name.
func writeSummaryDiff(sumDir, from, to string, new []byte) (string, bool) {
	name := from + "-" + to + ".delta"
	p := filepath.Join(sumDir, name)
	if _, err := os.Stat(p); err == nil {
		return name, true
	}
	gz, err := os.ReadFile(filepath.Join(sumDir, from+".gz"))
	if err != nil {
		return "", false
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return "", false
	}
	old, err := io.ReadAll(zr)
	if err != nil {
		return "", false
	}
	pre := 0
	for pre < len(old) && pre < len(new) && old[pre] == new[pre] {
		pre++
	}
	suf := 0
	for suf < len(old)-pre && suf < len(new)-pre && old[len(old)-1-suf] == new[len(new)-1-suf] {
		suf++
	}
	const maxOp = 0x0fffffff
	if len(old) > maxOp || len(new) > maxOp {
		return "", false
	}
	var ops []uint32
	add := func(kind uint32, n int) {
		if n > 0 {
			ops = append(ops, kind<<28|uint32(n))
		}
	}
	add(0, pre)
	add(1, len(old)-pre-suf)
	add(2, len(new)-pre-suf)
	add(0, suf)
	var raw bytes.Buffer
	raw.WriteString("xadf")
	binary.Write(&raw, binary.LittleEndian, uint32(len(ops)))
	binary.Write(&raw, binary.LittleEndian, ops)
	raw.Write(new[pre : len(new)-suf])
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(raw.Bytes())
	zw.Close()
	if writeFile(p, buf.Bytes()) != nil {
		return "", false
	}
	return name, true
}

type indexEntry struct {
	digest  []byte
	history [][]byte
}

func readIndexHistory(path string) map[string]indexEntry {
	out := map[string]indexEntry{}
	data, err := os.ReadFile(path)
	if err != nil {
		return out
	}
	v, err := gvariant.Unmarshal(IndexType, data)
	if err != nil {
		return out
	}
	m := v.Index(0)
	for i := 0; i < m.Len(); i++ {
		de := m.Index(i)
		t := de.Index(1)
		e := indexEntry{digest: t.Index(0).ByteSlice()}
		h := t.Index(1)
		for j := 0; j < h.Len(); j++ {
			e.history = append(e.history, h.Index(j).ByteSlice())
		}
		out[de.Index(0).Str()] = e
	}
	return out
}

// Index is a parsed summary.idx.
type Index struct {
	Subsummaries map[string][]byte // name → sha256 digest
	Metadata     gvariant.Value    // a{sv}
}

// ParseIndex parses summary.idx bytes.
func ParseIndex(data []byte) (*Index, error) {
	v, err := gvariant.Unmarshal(IndexType, data)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", IndexFile, err)
	}
	ix := &Index{Subsummaries: map[string][]byte{}, Metadata: v.Index(1)}
	m := v.Index(0)
	for i := 0; i < m.Len(); i++ {
		de := m.Index(i)
		d := de.Index(1).Index(0).ByteSlice()
		if len(d) != 32 {
			return nil, fmt.Errorf("reading %s: digest of %d bytes", IndexFile, len(d))
		}
		ix.Subsummaries[de.Index(0).Str()] = append([]byte(nil), d...)
	}
	return ix, nil
}

// dearmor returns binary key data: armored blocks are decoded and
// concatenated, binary data is checked and kept as is.
func dearmor(data []byte) ([]byte, error) {
	if _, err := sign.ReadKeys(data); err != nil {
		return nil, err
	}
	if !bytes.Contains(data, []byte("-----BEGIN PGP")) {
		return data, nil
	}
	var out []byte
	rest := data
	for {
		i := bytes.Index(rest, []byte("-----BEGIN PGP"))
		if i < 0 {
			break
		}
		blk, err := armor.Decode(bytes.NewReader(rest[i:]))
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(blk.Body)
		if err != nil {
			return nil, err
		}
		out = append(out, b...)
		j := bytes.Index(rest[i:], []byte("-----END PGP"))
		if j < 0 {
			break
		}
		rest = rest[i+j+5:]
	}
	return out, nil
}
