package object

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// RelatedRef is an entry of a commit's (unused) related-objects list.
type RelatedRef struct {
	Name     string
	Checksum Checksum
}

// Commit is a commit object "(a{sv}aya(say)sstayay)".
type Commit struct {
	Metadata  Metadata
	Parent    *Checksum // nil for a root commit
	Related   []RelatedRef
	Subject   string
	Body      string
	Timestamp uint64 // seconds since the epoch (stored BE)
	RootTree  Checksum
	RootMeta  Checksum
}

// Marshal serializes the commit.
func (c *Commit) Marshal() []byte {
	var offs []int
	b := c.Metadata.Marshal()
	offs = append(offs, len(b))
	if c.Parent != nil {
		b = append(b, c.Parent[:]...)
	}
	offs = append(offs, len(b))
	rs := len(b)
	var roffs []int
	for _, r := range c.Related {
		es := len(b)
		b = appendString(b, r.Name)
		nameEnd := len(b) - es
		b = append(b, r.Checksum[:]...)
		b = appendOffsets(b, es, []int{nameEnd})
		roffs = append(roffs, len(b)-rs)
	}
	b = appendOffsets(b, rs, roffs)
	offs = append(offs, len(b))
	b = appendString(b, c.Subject)
	offs = append(offs, len(b))
	b = appendString(b, c.Body)
	offs = append(offs, len(b))
	b = pad(b, 0, 8)
	b = binary.BigEndian.AppendUint64(b, c.Timestamp)
	b = append(b, c.RootTree[:]...)
	offs = append(offs, len(b))
	b = append(b, c.RootMeta[:]...)
	rev := make([]int, len(offs))
	for i, o := range offs {
		rev[len(offs)-1-i] = o
	}
	return appendOffsets(b, 0, rev)
}

// Validate checks the commit's invariants.
func (c *Commit) Validate() error {
	for _, e := range c.Metadata {
		if e.Key == "" {
			return fmt.Errorf("commit: %w: empty metadata key", ErrInvalid)
		}
	}
	return nil
}

// ContentChecksum is what `ostree show` prints as ContentChecksum:
// sha256(root dirtree ‖ root dirmeta).
func (c *Commit) ContentChecksum() Checksum {
	return sha256.Sum256(append(append([]byte{}, c.RootTree[:]...), c.RootMeta[:]...))
}

// UnmarshalCommit parses and validates a commit object.
func UnmarshalCommit(d []byte) (Commit, error) {
	var c Commit
	f := newFrame(d, "commit")
	const nOffs = 6
	var ends [nOffs]int
	for i := range ends {
		e, err := f.offsetAt(i)
		if err != nil {
			return c, err
		}
		ends[i] = e
	}
	limit := len(d) - nOffs*f.k
	for i := 1; i < nOffs; i++ {
		if ends[i] < ends[i-1] {
			return c, f.errorf("framing offsets not increasing")
		}
	}
	if ends[nOffs-1] > limit {
		return c, f.errorf("framing offsets out of range")
	}
	var err error
	if c.Metadata, err = UnmarshalMetadata(d[:ends[0]]); err != nil {
		return c, fmt.Errorf("commit: %w", err)
	}
	switch p := d[ends[0]:ends[1]]; len(p) {
	case 0:
	case 32:
		pc, _ := ChecksumFromBytes(p)
		c.Parent = &pc
	default:
		return c, f.errorf("parent of %d bytes", len(p))
	}
	rel, err := newFrame(d[ends[1]:ends[2]], "commit related").arrayElems(1)
	if err != nil {
		return c, err
	}
	for _, e := range rel {
		p, err := newFrame(e, "commit related").varTuple(2)
		if err != nil {
			return c, err
		}
		name, err := parseString(p[0], "commit related")
		if err != nil {
			return c, err
		}
		rc, err := ChecksumFromBytes(p[1])
		if err != nil {
			return c, fmt.Errorf("commit related: %w", err)
		}
		c.Related = append(c.Related, RelatedRef{name, rc})
	}
	if c.Subject, err = parseString(d[ends[2]:ends[3]], "commit subject"); err != nil {
		return c, err
	}
	if c.Body, err = parseString(d[ends[3]:ends[4]], "commit body"); err != nil {
		return c, err
	}
	ts := (ends[4] + 7) &^ 7
	if ts+8 > ends[5] {
		return c, f.errorf("truncated timestamp")
	}
	c.Timestamp = binary.BigEndian.Uint64(d[ts:])
	if c.RootTree, err = ChecksumFromBytes(d[ts+8 : ends[5]]); err != nil {
		return c, fmt.Errorf("commit root dirtree: %w", err)
	}
	if c.RootMeta, err = ChecksumFromBytes(d[ends[5]:limit]); err != nil {
		return c, fmt.Errorf("commit root dirmeta: %w", err)
	}
	if err := c.Validate(); err != nil {
		return c, err
	}
	if !bytes.Equal(c.Marshal(), d) {
		return c, fmt.Errorf("commit: %w: not in normal form", ErrInvalid)
	}
	return c, nil
}
