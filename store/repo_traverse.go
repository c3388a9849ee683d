package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/porthole-dev/porthole/store/object"
)

// Reachable is a set of object names.
type Reachable map[object.ObjectName]struct{}

// Traverse adds to set every object reachable from commit: the commit, its
// dirtrees, dirmetas and content objects, and its parents up to depth
// generations (-1: all; 0: the commit only). A missing parent ends the
// walk; other missing objects are an error wrapping ErrObjectNotFound
// unless the commit is marked partial. set may be nil.
func Traverse(ctx context.Context, repo *Repo, commit object.Checksum, depth int, set Reachable) (Reachable, error) {
	if set == nil {
		set = Reachable{}
	}
	for c, gen := commit, 0; ; gen++ {
		name := object.ObjectName{Checksum: c, Type: object.TypeCommit}
		if _, seen := set[name]; seen {
			return set, nil
		}
		data, err := repo.ReadMetadata(ctx, object.TypeCommit, c)
		if err != nil {
			if gen > 0 && errors.Is(err, ErrObjectNotFound) {
				return set, nil
			}
			return set, err
		}
		cm, err := object.UnmarshalCommit(data)
		if err != nil {
			return set, &corruptError{name, err}
		}
		set[name] = struct{}{}
		partial, _ := repo.IsCommitPartial(ctx, c)
		if err := traverseDir(ctx, repo, cm.RootTree, cm.RootMeta, set, partial); err != nil {
			return set, fmt.Errorf("commit %s: %w", c, err)
		}
		if cm.Parent == nil || (depth >= 0 && gen >= depth) {
			return set, nil
		}
		c = *cm.Parent
	}
}

func traverseDir(ctx context.Context, repo *Repo, tree, meta object.Checksum, set Reachable, partial bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	set[object.ObjectName{Checksum: meta, Type: object.TypeDirMeta}] = struct{}{}
	tn := object.ObjectName{Checksum: tree, Type: object.TypeDirTree}
	if _, seen := set[tn]; seen {
		return nil
	}
	set[tn] = struct{}{}
	t, err := repo.readDirTree(ctx, tree)
	if err != nil {
		if partial && errors.Is(err, ErrObjectNotFound) {
			return nil
		}
		return err
	}
	for _, f := range t.Files {
		set[object.ObjectName{Checksum: f.Checksum, Type: object.TypeFile}] = struct{}{}
	}
	for _, d := range t.Dirs {
		if err := traverseDir(ctx, repo, d.Tree, d.Meta, set, partial); err != nil {
			return err
		}
	}
	return nil
}

// listCommits returns every commit object in the repository.
func (r *Repo) listCommits(ctx context.Context) ([]object.Checksum, error) {
	var out []object.Checksum
	err := r.ListObjects(ctx, func(n object.ObjectName) error {
		if n.Type == object.TypeCommit {
			out = append(out, n.Checksum)
		}
		return nil
	})
	return out, err
}
