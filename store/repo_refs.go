package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/porthole-dev/porthole/store/object"
)

func (r *Repo) refPath(remote, ref string) (string, error) {
	if err := object.ValidateRef(ref); err != nil {
		return "", err
	}
	if remote == "" {
		return filepath.Join(r.dir, "refs", "heads", ref), nil
	}
	if err := object.ValidateRemoteName(remote); err != nil {
		return "", err
	}
	return filepath.Join(r.dir, "refs", "remotes", remote, ref), nil
}

func readRefFile(path string) (object.Checksum, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return object.Checksum{}, err
	}
	c, err := object.ParseChecksum(strings.TrimRight(string(data), "\n"))
	if err != nil {
		return c, fmt.Errorf("ref file %s: %w", path, err)
	}
	return c, nil
}

// SetRef points ref (in refs/heads when remote is "", else
// refs/remotes/REMOTE) at c, or deletes it when c is nil. Staged objects
// are flushed first, so the ref never names objects that are not in place.
func (r *Repo) SetRef(ctx context.Context, remote, ref string, c *object.Checksum) error {
	path, err := r.refPath(remote, ref)
	if err != nil {
		return err
	}
	return r.setRefPath(ctx, path, c)
}

// SetMirrorRef is SetRef for refs/mirrors/COLLECTION-ID/REF.
func (r *Repo) SetMirrorRef(ctx context.Context, collectionID, ref string, c *object.Checksum) error {
	if err := object.ValidateRef(ref); err != nil {
		return err
	}
	if strings.Contains(collectionID, "/") || object.ValidateRef(collectionID) != nil {
		return fmt.Errorf("collection ID %q: %w", collectionID, object.ErrInvalid)
	}
	return r.setRefPath(ctx, filepath.Join(r.dir, "refs", "mirrors", collectionID, ref), c)
}

func (r *Repo) setRefPath(ctx context.Context, path string, c *object.Checksum) error {
	if c == nil {
		err := os.Remove(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("deleting ref: %w", err)
		}
		r.pruneEmptyRefDirs(filepath.Dir(path))
		return nil
	}
	if err := r.Flush(ctx); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("writing ref: %w", err)
	}
	if err := writeFileAtomic(path, []byte(c.String()+"\n"), 0o644); err != nil {
		return fmt.Errorf("writing ref: %w", err)
	}
	return nil
}

// pruneEmptyRefDirs removes directories a deleted ref leaves empty, up to
// refs/heads, refs/remotes/REMOTE or refs/mirrors/COLLECTION.
func (r *Repo) pruneEmptyRefDirs(dir string) {
	refs := filepath.Join(r.dir, "refs")
	for strings.HasPrefix(dir, refs+"/") {
		parent := filepath.Dir(dir)
		if parent == refs || parent == filepath.Join(refs, "remotes") || parent == filepath.Join(refs, "mirrors") {
			return
		}
		if os.Remove(dir) != nil {
			return
		}
		dir = parent
	}
}

// ListRefs returns the refs of remote ("" = local refs/heads), by name.
func (r *Repo) ListRefs(ctx context.Context, remote string) (map[string]object.Checksum, error) {
	base := filepath.Join(r.dir, "refs", "heads")
	if remote != "" {
		if err := object.ValidateRemoteName(remote); err != nil {
			return nil, err
		}
		base = filepath.Join(r.dir, "refs", "remotes", remote)
	}
	return listRefDir(base)
}

// ListRemoteRefs returns every ref under refs/remotes, keyed "REMOTE:REF".
func (r *Repo) ListRemoteRefs(ctx context.Context) (map[string]object.Checksum, error) {
	return r.listTwoLevel("remotes", ":")
}

// ListMirrorRefs returns every ref under refs/mirrors, keyed
// "COLLECTION-ID:REF".
func (r *Repo) ListMirrorRefs(ctx context.Context) (map[string]object.Checksum, error) {
	return r.listTwoLevel("mirrors", ":")
}

func (r *Repo) listTwoLevel(kind, sep string) (map[string]object.Checksum, error) {
	out := map[string]object.Checksum{}
	base := filepath.Join(r.dir, "refs", kind)
	ents, err := os.ReadDir(base)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		m, err := listRefDir(filepath.Join(base, e.Name()))
		if err != nil {
			return nil, err
		}
		for k, v := range m {
			out[e.Name()+sep+k] = v
		}
	}
	return out, nil
}

func listRefDir(base string) (map[string]object.Checksum, error) {
	out := map[string]object.Checksum{}
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		c, err := readRefFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(base, p)
		out[filepath.ToSlash(rel)] = c
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing refs: %w", err)
	}
	return out, nil
}

// ResolveRef resolves a refspec to a commit checksum: a full checksum,
// "REMOTE:REF", "REF" (refs/heads, then refs/remotes/REF as "REMOTE/REF",
// then refs/mirrors), a unique prefix of a stored commit's checksum, each
// optionally followed by one or more '^' for parents.
func (r *Repo) ResolveRef(ctx context.Context, ref string) (object.Checksum, error) {
	parents := 0
	for strings.HasSuffix(ref, "^") {
		ref = ref[:len(ref)-1]
		parents++
	}
	c, err := r.resolveBase(ctx, ref)
	if err != nil {
		return c, err
	}
	for i := 0; i < parents; i++ {
		data, err := r.ReadMetadata(ctx, object.TypeCommit, c)
		if err != nil {
			return c, fmt.Errorf("resolving %s: %w", ref, err)
		}
		cm, err := object.UnmarshalCommit(data)
		if err != nil {
			return c, &corruptError{object.ObjectName{Checksum: c, Type: object.TypeCommit}, err}
		}
		if cm.Parent == nil {
			return c, fmt.Errorf("commit %s has no parent: %w", c, ErrRefNotFound)
		}
		c = *cm.Parent
	}
	return c, nil
}

func (r *Repo) resolveBase(ctx context.Context, ref string) (object.Checksum, error) {
	if c, err := object.ParseChecksum(ref); err == nil {
		return c, nil
	}
	if remote, name, ok := strings.Cut(ref, ":"); ok {
		path, err := r.refPath(remote, name)
		if err != nil {
			return object.Checksum{}, fmt.Errorf("refspec %q: %w", ref, err)
		}
		c, err := readRefFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return c, fmt.Errorf("refspec %s: %w", ref, ErrRefNotFound)
		}
		return c, err
	}
	if object.ValidateRef(ref) == nil {
		for _, p := range []string{"heads", "remotes", "mirrors"} {
			c, err := readRefFile(filepath.Join(r.dir, "refs", p, ref))
			if err == nil {
				return c, nil
			}
			if !errors.Is(err, fs.ErrNotExist) {
				return c, err
			}
		}
	}
	if c, ok, err := r.resolvePrefix(ref); ok || err != nil {
		return c, err
	}
	return object.Checksum{}, fmt.Errorf("refspec %s: %w", ref, ErrRefNotFound)
}

func (r *Repo) resolvePrefix(prefix string) (object.Checksum, bool, error) {
	if len(prefix) < 2 || len(prefix) >= 64 || strings.Trim(prefix, "0123456789abcdef") != "" {
		return object.Checksum{}, false, nil
	}
	ents, err := os.ReadDir(filepath.Join(r.objectsDir(), prefix[:2]))
	if err != nil {
		return object.Checksum{}, false, nil
	}
	var found []object.Checksum
	for _, e := range ents {
		n, err := object.ParseObjectName(prefix[:2] + e.Name())
		if err == nil && n.Type == object.TypeCommit && strings.HasPrefix(n.Checksum.String(), prefix) {
			found = append(found, n.Checksum)
		}
	}
	switch len(found) {
	case 0:
		return object.Checksum{}, false, nil
	case 1:
		return found[0], true, nil
	}
	return object.Checksum{}, false, fmt.Errorf("refspec %s: ambiguous checksum prefix", prefix)
}

func (r *Repo) partialPath(c object.Checksum) string {
	return filepath.Join(r.dir, "state", c.String()+".commitpartial")
}

// MarkCommitPartial records that commit c is stored but some of its
// objects may be missing (state/<c>.commitpartial).
func (r *Repo) MarkCommitPartial(ctx context.Context, c object.Checksum) error {
	if err := os.MkdirAll(filepath.Join(r.dir, "state"), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(r.partialPath(c), os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("marking %s partial: %w", c, err)
	}
	return f.Close()
}

// ClearCommitPartial removes the partial marker of c.
func (r *Repo) ClearCommitPartial(ctx context.Context, c object.Checksum) error {
	err := os.Remove(r.partialPath(c))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("clearing partial state of %s: %w", c, err)
	}
	return nil
}

// IsCommitPartial reports whether c carries the partial marker.
func (r *Repo) IsCommitPartial(ctx context.Context, c object.Checksum) (bool, error) {
	_, err := os.Stat(r.partialPath(c))
	if err == nil {
		return true, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return false, err
}
