package publish

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/porthole-dev/porthole/runtime/metadata"
	"github.com/porthole-dev/porthole/runtime/ref"
	"github.com/porthole-dev/porthole/store"
	"github.com/porthole-dev/porthole/store/object"
	"github.com/porthole-dev/porthole/store/summary"
)

// Commit metadata keys Flatpak writes.
const (
	KeyMetadata        = "xa.metadata"
	KeyInstalledSize   = "xa.installed-size"
	KeyDownloadSize    = "xa.download-size"
	KeyRef             = "xa.ref"
	KeyRefBinding      = "ostree.ref-binding"
	KeyCollection      = "ostree.collection-binding"
	KeyEndOfLife       = "ostree.endoflife"
	KeySubsets         = "xa.subsets"
	KeyEndOfLifeRebase = "ostree.endoflife-rebase"
)

// ExportOptions tune Export.
type ExportOptions struct {
	Branch          string // "" means master
	Arch            string // "" means native
	Runtime         bool   // --runtime: files come from DIR/usr
	Files           string // --files=SUBDIR
	Metadata        string // --metadata=FILE (relative to DIR)
	Subject         string
	Body            string
	Signer          store.Signer
	Timestamp       time.Time
	CollectionID    string
	EndOfLife       string
	EndOfLifeRebase string
	// Subsets are the named subsets the ref is in (xa.subsets).
	Subsets  []string
	Progress store.ProgressFunc
}

// ExportResult says what Export committed.
type ExportResult struct {
	Ref           ref.Ref
	Commit        object.Checksum
	InstalledSize uint64
	DownloadSize  uint64
}

// Export commits the build directory dir into the archive repository at
// repoDir (created if missing) as flatpak build-export does.
func Export(ctx context.Context, repoDir, dir string, opts ExportOptions) (*ExportResult, error) {
	mdName := opts.Metadata
	if mdName == "" {
		mdName = "metadata"
	}
	mdBytes, err := os.ReadFile(filepath.Join(dir, mdName))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, ErrNotBuild)
	}
	md, err := metadata.Parse(mdBytes)
	if err != nil {
		return nil, err
	}
	kind := md.Kind()
	if opts.Runtime {
		kind = ref.Runtime
	}
	r := ref.Ref{Kind: kind, ID: md.Name(), Arch: opts.Arch, Branch: opts.Branch}
	if r.Arch == "" {
		r.Arch = ref.NativeArch()
	}
	if r.Branch == "" {
		r.Branch = "master"
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	files := opts.Files
	if files == "" {
		files = "files"
		if opts.Runtime {
			if _, err := os.Stat(filepath.Join(dir, "usr")); err == nil {
				files = "usr"
			}
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, files)); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("%s: no %s directory: %w", dir, files, ErrNotBuild)
	}

	repo, err := openOrInit(ctx, repoDir)
	if err != nil {
		return nil, err
	}
	defer repo.Close()

	stage, err := os.MkdirTemp(filepath.Dir(filepath.Clean(dir)), ".porthole-export-")
	if err != nil {
		return nil, fmt.Errorf("cannot stage export: %w", err)
	}
	defer os.RemoveAll(stage)
	if err := os.WriteFile(filepath.Join(stage, "metadata"), mdBytes, 0o644); err != nil {
		return nil, err
	}
	if err := linkTree(filepath.Join(dir, files), filepath.Join(stage, "files")); err != nil {
		return nil, err
	}
	if kind == ref.App {
		if _, err := os.Stat(filepath.Join(dir, "export")); err == nil {
			if err := linkTree(filepath.Join(dir, "export"), filepath.Join(stage, "export")); err != nil {
				return nil, err
			}
		} else if err := os.Mkdir(filepath.Join(stage, "export"), 0o755); err != nil {
			return nil, err
		}
	}

	// Write the tree first (a throw-away commit), then measure it and write
	// the real commit over the same root.
	tmpSum, err := store.Commit(ctx, repo, stage, store.CommitOptions{
		NoBindings: true, NoParent: true, CanonicalPermissions: true, NoXattrs: true,
		Timestamp: time.Unix(0, 0), Progress: opts.Progress,
	})
	if err != nil {
		return nil, fmt.Errorf("cannot commit %s: %w", dir, err)
	}
	tmpData, err := repo.ReadMetadata(ctx, object.TypeCommit, tmpSum)
	if err != nil {
		return nil, err
	}
	tmp, err := object.UnmarshalCommit(tmpData)
	if err != nil {
		return nil, err
	}
	inst, dl, err := TreeSizes(ctx, repo, tmp.RootTree)
	if err != nil {
		return nil, err
	}

	cm := object.Commit{RootTree: tmp.RootTree, RootMeta: tmp.RootMeta}
	cm.Subject = opts.Subject
	if cm.Subject == "" {
		cm.Subject = "Export " + r.ID
	}
	cm.Body = opts.Body
	if cm.Body == "" {
		cm.Body = fmt.Sprintf("Name: %s\nArch: %s\nBranch: %s\nBuilt with: Porthole\n", r.ID, r.Arch, r.Branch)
	}
	ts := opts.Timestamp
	if ts.IsZero() {
		ts = time.Now()
	}
	cm.Timestamp = uint64(ts.Unix())
	if p, err := repo.ResolveRef(ctx, r.String()); err == nil {
		cm.Parent = &p
	}
	set := func(e object.MetadataEntry, key string) {
		e.Key = key
		cm.Metadata.Set(e)
	}
	set(object.NewMetadataEntry("", summary.BEUint64(inst)), KeyInstalledSize)
	set(object.NewMetadataEntry("", summary.BEUint64(dl)), KeyDownloadSize)
	set(object.StringValue(string(mdBytes)), KeyMetadata)
	set(object.StringValue(r.String()), KeyRef)
	set(object.StringsValue([]string{r.String()}), KeyRefBinding)
	cid := opts.CollectionID
	if cid == "" {
		cid, _ = repo.ConfigValue("core", "collection-id")
	}
	set(object.StringValue(cid), KeyCollection)
	if opts.EndOfLife != "" {
		set(object.StringValue(opts.EndOfLife), KeyEndOfLife)
	}
	var subsets []string
	for _, s := range opts.Subsets {
		if s != "" && !slices.Contains(subsets, s) {
			subsets = append(subsets, s)
		}
	}
	if len(subsets) > 0 {
		set(object.StringsValue(subsets), KeySubsets)
	}
	if opts.EndOfLifeRebase != "" {
		// An ID, recorded as the same kind/arch/branch under that ID.
		if err := ref.ValidateID(opts.EndOfLifeRebase); err != nil {
			return nil, fmt.Errorf("invalid name in --end-of-life-rebase: %w", err)
		}
		nr := r
		nr.ID = opts.EndOfLifeRebase
		set(object.StringValue(nr.String()), KeyEndOfLifeRebase)
	}
	data := cm.Marshal()
	sum, err := repo.WriteMetadata(ctx, object.TypeCommit, data, nil)
	if err != nil {
		return nil, err
	}
	if opts.Signer != nil {
		sig, err := opts.Signer.Sign(ctx, data)
		if err != nil {
			return nil, fmt.Errorf("signing commit %s: %w", sum, err)
		}
		e := object.ByteArraysValue([][]byte{sig})
		e.Key = "ostree.gpgsigs"
		if err := repo.WriteCommitMeta(ctx, sum, object.Metadata{e}.Marshal()); err != nil {
			return nil, err
		}
	}
	if err := repo.Flush(ctx); err != nil {
		return nil, err
	}
	if err := repo.SetRef(ctx, "", r.String(), &sum); err != nil {
		return nil, err
	}
	if tmpSum != sum {
		_ = repo.DeleteObject(ctx, object.ObjectName{Checksum: tmpSum, Type: object.TypeCommit})
	}
	return &ExportResult{Ref: r, Commit: sum, InstalledSize: inst, DownloadSize: dl}, nil
}

func openOrInit(ctx context.Context, dir string) (*store.Repo, error) {
	repo, err := store.Open(ctx, dir)
	if err == nil {
		return repo, nil
	}
	if _, serr := os.Stat(filepath.Join(dir, "config")); serr == nil {
		return nil, err
	}
	return store.Init(ctx, dir, store.ModeArchive)
}

// swap64 converts between big-endian storage and host order.
func swap64(v uint64) uint64 {
	var out uint64
	for k := 0; k < 8; k++ {
		out = out<<8 | v&0xff
		v >>= 8
	}
	return out
}

// TreeSizes walks a dirtree: installed size is the sum of regular file
// sizes rounded up to 512 bytes, download size the sum of the stored
// (archived) sizes of the file objects, as flatpak computes them.
func TreeSizes(ctx context.Context, repo *store.Repo, tree object.Checksum) (installed, download uint64, err error) {
	data, err := repo.ReadMetadata(ctx, object.TypeDirTree, tree)
	if err != nil {
		return 0, 0, err
	}
	dt, err := object.UnmarshalDirTree(data)
	if err != nil {
		return 0, 0, err
	}
	for _, f := range dt.Files {
		hdr, rc, err := repo.OpenContent(ctx, f.Checksum)
		if err != nil {
			return 0, 0, err
		}
		rc.Close()
		if hdr.IsRegular() {
			installed += (hdr.Size + 511) / 512 * 512
		}
		hex := f.Checksum.String()
		for _, suffix := range []string{".filez", ".file"} {
			if fi, err := os.Stat(filepath.Join(repo.Path(), "objects", hex[:2], hex[2:]+suffix)); err == nil {
				download += uint64(fi.Size())
				break
			}
		}
	}
	for _, d := range dt.Dirs {
		i, dl, err := TreeSizes(ctx, repo, d.Tree)
		if err != nil {
			return 0, 0, err
		}
		installed += i
		download += dl
	}
	return installed, download, nil
}

// linkTree mirrors src at dst with hard links (copies across devices).
func linkTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(out, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			t, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(t, out)
		case d.Type().IsRegular():
			if err := os.Link(p, out); err == nil {
				return nil
			}
			return copyFile(p, out)
		}
		return nil // sockets, fifos, devices are not exported
	})
}

// Sign adds a signature by signer to the commits refs point at in the
// repository (build-sign).
func Sign(ctx context.Context, repoDir string, refs []string, signer store.Signer) error {
	repo, err := store.Open(ctx, repoDir)
	if err != nil {
		return err
	}
	defer repo.Close()
	for _, rs := range refs {
		sum, err := repo.ResolveRef(ctx, rs)
		if err != nil {
			return err
		}
		if err := signCommit(ctx, repo, sum, signer); err != nil {
			return fmt.Errorf("signing %s: %w", rs, err)
		}
	}
	return repo.Flush(ctx)
}

// signCommit appends a signature by signer to a commit's detached metadata.
func signCommit(ctx context.Context, repo *store.Repo, sum object.Checksum, signer store.Signer) error {
	data, err := repo.ReadMetadata(ctx, object.TypeCommit, sum)
	if err != nil {
		return err
	}
	sig, err := signer.Sign(ctx, data)
	if err != nil {
		return err
	}
	old, err := repo.ReadCommitMeta(ctx, sum)
	if err != nil && !errors.Is(err, store.ErrObjectNotFound) && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	meta, err := appendSig(old, sig)
	if err != nil {
		return err
	}
	return repo.WriteCommitMeta(ctx, sum, meta)
}
