package object

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
)

// maxHeaderSize bounds a content header (target and xattrs included), so a
// hostile length prefix cannot make a reader allocate without limit.
const maxHeaderSize = 16 << 20

// DefaultCompressionLevel is ostree's core.zlib-level default.
const DefaultCompressionLevel = 6

// FilezHeader returns the length-prefixed header that starts a .filez:
// BE u32 length, 4 zero bytes, "(tuuuusa(ayay))".
func FilezHeader(h *FileHeader) []byte {
	hdr := h.MarshalArchiveHeader()
	out := make([]byte, 8, 8+len(hdr))
	binary.BigEndian.PutUint32(out, uint32(len(hdr)))
	return append(out, hdr...)
}

// WriteFilez writes the .filez encoding of (h, content) to w; h.Size must be
// the content length. level is a compress/flate level (ostree uses 6).
func WriteFilez(w io.Writer, h *FileHeader, content io.Reader, level int) error {
	if _, err := w.Write(FilezHeader(h)); err != nil {
		return err
	}
	if h.IsSymlink() {
		return nil
	}
	zw, err := getDeflater(w, level)
	if err != nil {
		return err
	}
	defer putDeflater(zw, level)
	var n int64
	if content != nil {
		bp := copyBufPool.Get().(*[]byte)
		n, err = io.CopyBuffer(zw, content, *bp)
		copyBufPool.Put(bp)
		if err != nil {
			return err
		}
	}
	if uint64(n) != h.Size {
		return fmt.Errorf("content is %d bytes, header says %d", n, h.Size)
	}
	return zw.Close()
}

// deflater is a raw-deflate writer (zlib through cgo, else compress/flate);
// Close ends the stream without closing the underlying writer.
type deflater interface {
	io.WriteCloser
}

var copyBufPool = sync.Pool{New: func() any { b := make([]byte, 128<<10); return &b }}

// ReadLengthPrefixed reads the BE u32 length, the 4 padding bytes and the
// header bytes that start a .filez (and ostree's content streams).
func ReadLengthPrefixed(r io.Reader) ([]byte, error) {
	var pre [8]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return nil, fmt.Errorf("%w: truncated header prefix: %v", ErrInvalid, err)
	}
	n := binary.BigEndian.Uint32(pre[:])
	if n > maxHeaderSize || n == 0 {
		return nil, fmt.Errorf("%w: header length %d", ErrInvalid, n)
	}
	if binary.BigEndian.Uint32(pre[4:]) != 0 {
		return nil, fmt.Errorf("%w: nonzero header padding", ErrInvalid)
	}
	// Grow with the data actually present rather than trusting n.
	hdr, err := io.ReadAll(io.LimitReader(r, int64(n)))
	if err != nil {
		return nil, fmt.Errorf("%w: reading header: %v", ErrInvalid, err)
	}
	if len(hdr) != int(n) {
		return nil, fmt.Errorf("%w: truncated header", ErrInvalid)
	}
	return hdr, nil
}

// ReadFilez parses the header of a .filez stream and returns a reader of the
// decompressed content. The content reader returns an error wrapping
// ErrInvalid if the data is not exactly h.Size bytes of valid deflate
// followed by end of stream.
func ReadFilez(r io.Reader) (FileHeader, io.ReadCloser, error) {
	br, ok := r.(*bufio.Reader)
	var pooled *bufio.Reader
	if !ok {
		pooled = bufReaderPool.Get().(*bufio.Reader)
		pooled.Reset(r)
		br = pooled
	}
	hdr, err := ReadLengthPrefixed(br)
	if err != nil {
		return FileHeader{}, nil, fmt.Errorf("filez: %w", err)
	}
	h, err := UnmarshalArchiveHeader(hdr)
	if err != nil {
		return h, nil, fmt.Errorf("filez: %w", err)
	}
	if h.IsSymlink() {
		return h, &exactReader{r: br, left: 0, symlink: true, pooled: pooled}, nil
	}
	zr, err := getInflater(br)
	if err != nil {
		if pooled != nil {
			bufReaderPool.Put(pooled)
		}
		return h, nil, err
	}
	return h, &exactReader{r: zr, zr: zr, src: br, left: h.Size, pooled: pooled}, nil
}

// Inflaters and buffered readers are reused across objects (fsck and
// checkout read thousands).
var bufReaderPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 32<<10) }}

// exactReader yields exactly left bytes and then checks the stream ends.
type exactReader struct {
	r       io.Reader
	zr      io.ReadCloser
	src     io.Reader
	left    uint64
	symlink bool
	done    bool
	pooled  *bufio.Reader // returned to bufReaderPool on Close
	closed  bool
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.closed {
		return 0, errors.New("filez: read after close")
	}
	if e.left == 0 {
		if !e.done {
			e.done = true
			if err := e.finish(); err != nil {
				return 0, err
			}
		}
		return 0, io.EOF
	}
	if uint64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= uint64(n)
	if err == io.EOF {
		if e.left > 0 {
			return n, fmt.Errorf("filez: %w: content shorter than header size", ErrInvalid)
		}
		err = nil
	} else if err != nil {
		return n, fmt.Errorf("filez: %w: %v", ErrInvalid, err)
	}
	return n, err
}

// finish checks that the deflate stream ends exactly here and nothing
// follows it.
func (e *exactReader) finish() error {
	var one [1]byte
	if e.zr != nil {
		n, err := e.zr.Read(one[:])
		if n > 0 || !errors.Is(err, io.EOF) {
			if err != nil && !errors.Is(err, io.EOF) {
				return fmt.Errorf("filez: %w: %v", ErrInvalid, err)
			}
			return fmt.Errorf("filez: %w: content longer than header size", ErrInvalid)
		}
	}
	if n, _ := e.source().Read(one[:]); n > 0 {
		return fmt.Errorf("filez: %w: trailing data", ErrInvalid)
	}
	return nil
}

func (e *exactReader) source() io.Reader {
	if e.src != nil {
		return e.src
	}
	return e.r
}

// Close releases the decompressor; it does not close the underlying reader.
// The reader must not be used afterwards.
func (e *exactReader) Close() error {
	if e.closed {
		return nil
	}
	e.closed = true
	if e.zr != nil {
		putInflater(e.zr)
		e.zr, e.r = nil, nil
	}
	if e.pooled != nil {
		e.pooled.Reset(nil)
		bufReaderPool.Put(e.pooled)
		e.pooled, e.src = nil, nil
	}
	return nil
}
