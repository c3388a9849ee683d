package store

import (
	"context"
	"errors"
	"path/filepath"
	"time"

	"github.com/porthole-dev/porthole/store/object"
	"golang.org/x/sys/unix"
)

// PruneOptions are ostree prune's options.
type PruneOptions struct {
	// RefsOnly keeps only what refs (heads, remotes, mirrors) reach;
	// otherwise every commit in the repository is kept and only objects no
	// commit reaches are deleted.
	RefsOnly bool
	// Depth is how many parents of each root commit to keep (-1: all).
	Depth int
	// KeepYoungerThan, when set, keeps only ref heads and the commits in
	// their history at least this young (and what they reach); RefsOnly and
	// Depth are then ignored, as in ostree.
	KeepYoungerThan time.Time
	// DryRun reports what would be deleted without deleting.
	DryRun bool
}

// PruneResult says what Prune deleted.
type PruneResult struct {
	Total   int   // objects before
	Deleted int   // objects deleted
	Freed   int64 // bytes freed (apparent size)
}

// Prune deletes unreachable objects with ostree's semantics. It holds the
// repository lock exclusively, and deletes commits first, then dirtrees and
// dirmetas, then content, so an interruption leaves every remaining commit
// complete.
func Prune(ctx context.Context, repo *Repo, opts PruneOptions) (*PruneResult, error) {
	if err := repo.Flush(ctx); err != nil {
		return nil, err
	}
	unlock, err := repo.Lock(ctx, true)
	if err != nil {
		return nil, err
	}
	defer unlock()

	refTargets := map[object.Checksum]bool{}
	for _, list := range []func(context.Context) (map[string]object.Checksum, error){
		func(ctx context.Context) (map[string]object.Checksum, error) { return repo.ListRefs(ctx, "") },
		repo.ListRemoteRefs, repo.ListMirrorRefs,
	} {
		m, err := list(ctx)
		if err != nil {
			return nil, err
		}
		for _, c := range m {
			refTargets[c] = true
		}
	}
	res := &PruneResult{}
	var all []object.ObjectName
	if err := repo.ListObjects(ctx, func(n object.ObjectName) error {
		all = append(all, n)
		return nil
	}); err != nil {
		return nil, err
	}
	res.Total = len(all)

	reach := Reachable{}
	switch {
	case !opts.KeepYoungerThan.IsZero():
		// Like ostree: walk each ref's history, keeping the head and every
		// commit at least as young as the cutoff; nothing else is a root.
		for c := range refTargets {
			if err := repo.reachYounger(ctx, c, opts.KeepYoungerThan, reach); err != nil {
				return res, err
			}
		}
	case opts.RefsOnly:
		for c := range refTargets {
			if _, err := Traverse(ctx, repo, c, opts.Depth, reach); err != nil && !errors.Is(err, ErrObjectNotFound) {
				return res, err
			}
		}
	default:
		for _, n := range all {
			if n.Type != object.TypeCommit {
				continue
			}
			if _, err := Traverse(ctx, repo, n.Checksum, opts.Depth, reach); err != nil && !errors.Is(err, ErrObjectNotFound) && !errors.Is(err, ErrCorrupt) {
				return res, err
			}
		}
	}

	order := []func(object.ObjectType) bool{
		func(t object.ObjectType) bool { return t == object.TypeCommit },
		func(t object.ObjectType) bool { return t == object.TypeDirTree || t == object.TypeDirMeta },
		func(t object.ObjectType) bool { return t == object.TypeFile },
	}
	for _, pass := range order {
		for _, n := range all {
			if !pass(n.Type) {
				continue
			}
			if _, ok := reach[n]; ok {
				continue
			}
			if err := ctx.Err(); err != nil {
				return res, err
			}
			if n.Type == object.TypeCommit {
				if err := repo.deleteCommit(ctx, n.Checksum, opts.DryRun, res); err != nil {
					return res, err
				}
				continue
			}
			if err := repo.deleteCounted(ctx, n, opts.DryRun, res); err != nil {
				return res, err
			}
		}
	}
	if !opts.DryRun {
		repo.cleanTmp()
		if err := repo.sync(); err != nil {
			return res, err
		}
	}
	return res, nil
}

func (r *Repo) deleteCounted(ctx context.Context, n object.ObjectName, dry bool, res *PruneResult) error {
	var st unix.Stat_t
	if unix.Lstat(filepath.Join(r.objectsDir(), r.loosePath(n)), &st) != nil {
		return nil
	}
	res.Deleted++
	res.Freed += st.Size
	if dry {
		return nil
	}
	return r.DeleteObject(ctx, n)
}

// deleteCommit removes a commit, its detached metadata and partial marker.
func (r *Repo) deleteCommit(ctx context.Context, c object.Checksum, dry bool, res *PruneResult) error {
	if err := r.deleteCounted(ctx, object.ObjectName{Checksum: c, Type: object.TypeCommit}, dry, res); err != nil {
		return err
	}
	if dry {
		return nil
	}
	if err := r.DeleteObject(ctx, object.ObjectName{Checksum: c, Type: object.TypeCommitMeta}); err != nil {
		return err
	}
	return r.ClearCommitPartial(ctx, c)
}

// cleanTmp removes staging directories left by dead writers.
func (r *Repo) cleanTmp() {
	r.stMu.Lock()
	own := ""
	if r.staging != nil {
		own = r.staging.path
	}
	r.stMu.Unlock()
	cleanStaleStaging(r.dir, own)
}

// reachYounger adds head and its ancestors not older than cutoff (with
// their trees) to reach.
func (r *Repo) reachYounger(ctx context.Context, head object.Checksum, cutoff time.Time, reach Reachable) error {
	for c, gen := head, 0; ; gen++ {
		data, err := r.ReadMetadata(ctx, object.TypeCommit, c)
		if errors.Is(err, ErrObjectNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		cm, err := object.UnmarshalCommit(data)
		if err != nil {
			return nil // corrupt: fsck's business; keep nothing behind it
		}
		if gen == 0 || int64(cm.Timestamp) >= cutoff.Unix() {
			if _, err := Traverse(ctx, r, c, 0, reach); err != nil && !errors.Is(err, ErrObjectNotFound) {
				return err
			}
		}
		if cm.Parent == nil {
			return nil
		}
		c = *cm.Parent
	}
}
