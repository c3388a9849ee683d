package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/porthole-dev/porthole/store/object"
)

// FsckOptions are ostree fsck's options.
type FsckOptions struct {
	// Delete removes corrupt objects and marks the commits that needed them
	// partial, so a later pull fetches them again.
	Delete bool
	// Progress receives objects checked so far.
	Progress ProgressFunc
	// Jobs is the number of parallel workers; 0 means GOMAXPROCS.
	Jobs int
}

// FsckProblem is one bad object.
type FsckProblem struct {
	Object object.ObjectName
	Err    error
}

// FsckResult lists what Fsck found. It is clean when Corrupt and Missing
// are empty.
type FsckResult struct {
	Objects int           // objects checked
	Commits int           // commits walked
	Corrupt []FsckProblem // objects whose bytes do not match their name or do not parse
	Missing []FsckProblem // objects a complete commit needs but that are absent
	Partial []object.Checksum
	Deleted []object.ObjectName
	// BadRefs lists refs ("REF", "REMOTE:REF", "COLLECTION:REF" for
	// mirrors) whose commit is missing.
	BadRefs []string
}

// OK reports whether no problem was found.
func (r *FsckResult) OK() bool {
	return len(r.Corrupt) == 0 && len(r.Missing) == 0 && len(r.BadRefs) == 0
}

// Fsck verifies every stored object against its checksum (in parallel) and
// checks that every commit not marked partial has all its objects.
func Fsck(ctx context.Context, repo *Repo, opts FsckOptions) (*FsckResult, error) {
	res := &FsckResult{}
	var names []object.ObjectName
	if err := repo.ListObjects(ctx, func(n object.ObjectName) error {
		names = append(names, n)
		return nil
	}); err != nil {
		return nil, err
	}
	res.Objects = len(names)
	jobs := opts.Jobs
	if jobs <= 0 {
		jobs = runtime.GOMAXPROCS(0)
	}
	var mu sync.Mutex
	var next, done atomic.Int64
	var wg sync.WaitGroup
	for range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(names) {
					return
				}
				if err := repo.verifyObject(ctx, names[i]); err != nil {
					mu.Lock()
					res.Corrupt = append(res.Corrupt, FsckProblem{names[i], err})
					mu.Unlock()
				}
				d := done.Add(1)
				if opts.Progress != nil {
					opts.Progress(d, int64(len(names)))
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sort.Slice(res.Corrupt, func(i, j int) bool { return res.Corrupt[i].Object.String() < res.Corrupt[j].Object.String() })

	corrupt := map[object.ObjectName]bool{}
	for _, p := range res.Corrupt {
		corrupt[p.Object] = true
		if opts.Delete {
			if err := repo.DeleteObject(ctx, p.Object); err != nil {
				return res, err
			}
			res.Deleted = append(res.Deleted, p.Object)
		}
	}
	commits, err := repo.listCommits(ctx)
	if err != nil {
		return res, err
	}
	sort.Slice(commits, func(i, j int) bool { return commits[i].String() < commits[j].String() })
	for _, c := range commits {
		cn := object.ObjectName{Checksum: c, Type: object.TypeCommit}
		if corrupt[cn] {
			continue
		}
		res.Commits++
		partial, _ := repo.IsCommitPartial(ctx, c)
		if partial {
			res.Partial = append(res.Partial, c)
			continue
		}
		set, err := Traverse(ctx, repo, c, 0, nil)
		needPartial := false
		if err != nil {
			if !errors.Is(err, ErrObjectNotFound) && !errors.Is(err, ErrCorrupt) {
				return res, err
			}
			// A dirtree is missing or corrupt; it is reported by name
			// below or in Corrupt.
			needPartial = true
		}
		for n := range set {
			if corrupt[n] {
				needPartial = true
				continue
			}
			if ok, err := repo.HasObject(ctx, n); err != nil {
				return res, err
			} else if !ok {
				res.Missing = append(res.Missing, FsckProblem{n, fmt.Errorf("object %s needed by commit %s: %w", n, c, ErrObjectNotFound)})
				needPartial = true
			}
		}
		if needPartial && opts.Delete {
			if err := repo.MarkCommitPartial(ctx, c); err != nil {
				return res, err
			}
			res.Partial = append(res.Partial, c)
		}
	}
	sort.Slice(res.Missing, func(i, j int) bool { return res.Missing[i].Object.String() < res.Missing[j].Object.String() })
	if err := repo.checkRefs(ctx, res); err != nil {
		return res, err
	}
	return res, nil
}

// checkRefs records refs whose commit object is absent.
func (r *Repo) checkRefs(ctx context.Context, res *FsckResult) error {
	heads, err := r.ListRefs(ctx, "")
	if err != nil {
		return err
	}
	remotes, err := r.ListRemoteRefs(ctx)
	if err != nil {
		return err
	}
	mirrors, err := r.ListMirrorRefs(ctx)
	if err != nil {
		return err
	}
	for _, m := range []map[string]object.Checksum{heads, remotes, mirrors} {
		for name, c := range m {
			ok, err := r.HasObject(ctx, object.ObjectName{Checksum: c, Type: object.TypeCommit})
			if err != nil {
				return err
			}
			if !ok {
				res.BadRefs = append(res.BadRefs, name)
			}
		}
	}
	sort.Strings(res.BadRefs)
	return nil
}

var fsckBufPool = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// verifyObject re-hashes one stored object and parses it strictly.
func (r *Repo) verifyObject(ctx context.Context, n object.ObjectName) error {
	switch n.Type {
	case object.TypeCommitMeta:
		data, err := r.ReadCommitMeta(ctx, n.Checksum)
		if err != nil {
			return err
		}
		if _, err := object.UnmarshalMetadata(data); err != nil {
			return &corruptError{n, err}
		}
		return nil
	case object.TypeFile:
		h, rc, err := r.OpenContent(ctx, n.Checksum)
		if err != nil {
			return err
		}
		defer rc.Close()
		if err := h.Validate(); err != nil {
			return &corruptError{n, err}
		}
		ch := object.NewContentHasher(&h)
		bp := fsckBufPool.Get().(*[]byte)
		_, err = io.CopyBuffer(ch, rc, *bp)
		fsckBufPool.Put(bp)
		if err != nil {
			return &corruptError{n, err}
		}
		if got := ch.Sum(); got != n.Checksum {
			return &ChecksumMismatchError{Object: n, Got: got}
		}
		return nil
	}
	data, err := r.ReadMetadata(ctx, n.Type, n.Checksum)
	if err != nil {
		return err
	}
	if got := object.Sum(data); got != n.Checksum {
		return &ChecksumMismatchError{Object: n, Got: got}
	}
	if err := ValidateMetadata(n.Type, data); err != nil {
		return &corruptError{n, err}
	}
	return nil
}
