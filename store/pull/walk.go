package pull

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/porthole-dev/porthole/store"
	"github.com/porthole-dev/porthole/store/object"
)

// job is one object to make present.
type job struct {
	name   object.ObjectName
	rescan bool // recurse into the dirtree even if it is stored
}

// queue is a work list shared by the workers. Metadata comes out before
// content so the tree is discovered quickly and many files are in flight.
type queue struct {
	mu      sync.Mutex
	cond    *sync.Cond
	meta    []job
	content []job
	pending int // queued + being processed
	err     error
}

func newQueue() *queue {
	q := &queue{}
	q.cond = sync.NewCond(&q.mu)
	return q
}

func (q *queue) push(j job) {
	q.mu.Lock()
	if j.name.Type == object.TypeFile {
		q.content = append(q.content, j)
	} else {
		q.meta = append(q.meta, j)
	}
	q.pending++
	q.mu.Unlock()
	q.cond.Signal()
}

// pop blocks until a job is available; ok is false when the work is done
// or failed.
func (q *queue) pop() (j job, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.meta) == 0 && len(q.content) == 0 && q.pending > 0 && q.err == nil {
		q.cond.Wait()
	}
	if q.err != nil {
		return job{}, false
	}
	switch {
	case len(q.meta) > 0:
		j = q.meta[len(q.meta)-1]
		q.meta = q.meta[:len(q.meta)-1]
	case len(q.content) > 0:
		j = q.content[0]
		q.content = q.content[1:]
	default:
		return job{}, false
	}
	return j, true
}

// fail stops the work with err (the first error wins).
func (q *queue) fail(err error) {
	q.mu.Lock()
	if q.err == nil {
		q.err = err
	}
	q.mu.Unlock()
	q.cond.Broadcast()
}

func (q *queue) done(err error) {
	q.mu.Lock()
	q.pending--
	if err != nil && q.err == nil {
		q.err = err
	}
	wake := q.pending == 0 || q.err != nil
	q.mu.Unlock()
	if wake {
		q.cond.Broadcast()
	}
}

// walkTrees makes every object below the roots present, with
// opts.Workers objects in flight, flushing stored objects periodically.
func (p *puller) walkTrees(ctx context.Context, roots []walkRoot) error {
	if len(roots) == 0 {
		return nil
	}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	q := newQueue()
	for _, r := range roots {
		p.enqueue(q, job{name: object.ObjectName{Checksum: r.meta, Type: object.TypeDirMeta}})
		p.enqueue(q, job{name: object.ObjectName{Checksum: r.tree, Type: object.TypeDirTree}, rescan: r.rescan})
	}
	flushDone := make(chan struct{})
	go func() {
		defer close(flushDone)
		t := time.NewTicker(p.opts.FlushInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := p.repo.Flush(ctx); err != nil {
					q.fail(fmt.Errorf("flushing stored objects: %w", err))
					return
				}
			}
		}
	}()
	var wg sync.WaitGroup
	for i := 0; i < p.opts.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				j, ok := q.pop()
				if !ok {
					return
				}
				err := p.process(ctx, q, j)
				if err != nil {
					cancel()
				}
				q.done(err)
			}
		}()
	}
	wg.Wait()
	cancel()
	<-flushDone
	if q.err != nil {
		return q.err
	}
	return parent.Err()
}

// enqueue adds a job unless the object was already scheduled (with at
// least the same rescan need).
func (p *puller) enqueue(q *queue, j job) {
	p.seenMu.Lock()
	// A dirtree first met from a complete commit may be met again from a
	// partial one, whose walk must look below it: schedule it again then.
	if prev, ok := p.seen[j.name]; ok && (prev || !j.rescan) {
		p.seenMu.Unlock()
		return
	}
	p.seen[j.name] = j.rescan
	p.seenMu.Unlock()
	if p.opts.Progress != nil {
		p.opts.Progress.AddTotal(1)
	}
	q.push(j)
}

func (p *puller) process(ctx context.Context, q *queue, j job) error {
	have, err := p.repo.HasObject(ctx, j.name)
	if err != nil {
		return err
	}
	var size int64
	defer func() {
		if p.opts.Progress != nil {
			p.opts.Progress.Add(1, size)
		}
	}()
	switch j.name.Type {
	case object.TypeDirTree:
		var data []byte
		if have {
			if !j.rescan {
				return nil
			}
			if data, err = p.repo.ReadMetadata(ctx, object.TypeDirTree, j.name.Checksum); err != nil {
				return err
			}
		} else {
			if data, err = p.fetchMetadata(ctx, j.name); err != nil {
				return err
			}
			size = int64(len(data))
		}
		tree, err := object.UnmarshalDirTree(data)
		if err != nil {
			return fmt.Errorf("dirtree %s: %w", j.name.Checksum, err)
		}
		for _, f := range tree.Files {
			p.enqueue(q, job{name: object.ObjectName{Checksum: f.Checksum, Type: object.TypeFile}})
		}
		for _, d := range tree.Dirs {
			p.enqueue(q, job{name: object.ObjectName{Checksum: d.Meta, Type: object.TypeDirMeta}})
			p.enqueue(q, job{name: object.ObjectName{Checksum: d.Tree, Type: object.TypeDirTree}, rescan: j.rescan})
		}
		return nil
	case object.TypeDirMeta:
		if have {
			return nil
		}
		data, err := p.fetchMetadata(ctx, j.name)
		size = int64(len(data))
		return err
	case object.TypeFile:
		if have {
			return nil
		}
		size, err = p.fetchContent(ctx, j.name)
		return err
	}
	return fmt.Errorf("unexpected object %s", j.name)
}

// retryable reports whether a failed object fetch may be tried again: not
// for missing or corrupt objects, nor after cancellation.
func retryable(ctx context.Context, err error) bool {
	return ctx.Err() == nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, store.ErrCorrupt) && !errors.Is(err, object.ErrInvalid)
}

const objectAttempts = 3

// fetchMetadata gets a dirtree or dirmeta, verifies and stores it.
func (p *puller) fetchMetadata(ctx context.Context, n object.ObjectName) ([]byte, error) {
	path := objectPath(n)
	var err error
	for attempt := 0; attempt < objectAttempts; attempt++ {
		var data []byte
		if data, err = p.fetchFile(ctx, path); err == nil {
			p.fetched.Add(1)
			p.bytes.Add(int64(len(data)))
			if _, err = p.repo.WriteMetadata(ctx, n.Type, data, &n.Checksum); err == nil {
				return data, nil
			}
		}
		if !retryable(ctx, err) {
			break
		}
	}
	return nil, fmt.Errorf("fetching %s: %w", path, err)
}

// countingReader counts bytes read.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}

// fetchContent streams a .filez into the repository, which verifies it
// before the object becomes visible.
func (p *puller) fetchContent(ctx context.Context, n object.ObjectName) (int64, error) {
	path := objectPath(n)
	var err error
	for attempt := 0; attempt < objectAttempts; attempt++ {
		var rc io.ReadCloser
		if rc, err = p.fetch.Fetch(ctx, path); err == nil {
			cr := &countingReader{r: rc}
			err = p.repo.WriteArchivedContent(ctx, cr, n.Checksum)
			rc.Close()
			p.bytes.Add(cr.n)
			if err == nil {
				p.fetched.Add(1)
				return cr.n, nil
			}
		}
		if !retryable(ctx, err) {
			break
		}
	}
	return 0, fmt.Errorf("fetching %s: %w", path, err)
}
