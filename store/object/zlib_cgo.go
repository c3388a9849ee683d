//go:build cgo

package object

// Raw deflate through the system zlib (as ostree uses): about twice as
// fast as compress/flate both ways, which matters for archive commits,
// fsck and pulls into bare repositories. Go memory is passed to C only as
// call arguments and never kept: the helpers clear the stream's buffer
// pointers before returning.

/*
#cgo LDFLAGS: -lz
#include <stdlib.h>
#include <zlib.h>

static z_stream *ph_new_deflate(int level) {
	z_stream *s = calloc(1, sizeof(z_stream));
	if (s == NULL) return NULL;
	if (deflateInit2(s, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) { free(s); return NULL; }
	return s;
}

static z_stream *ph_new_inflate(void) {
	z_stream *s = calloc(1, sizeof(z_stream));
	if (s == NULL) return NULL;
	if (inflateInit2(s, -15) != Z_OK) { free(s); return NULL; }
	return s;
}

static void ph_free_deflate(z_stream *s) { deflateEnd(s); free(s); }
static void ph_free_inflate(z_stream *s) { inflateEnd(s); free(s); }

static int ph_deflate(z_stream *s, unsigned char *in, size_t inlen, unsigned char *out, size_t outlen, int flush, size_t *consumed, size_t *produced) {
	s->next_in = in; s->avail_in = (uInt)inlen;
	s->next_out = out; s->avail_out = (uInt)outlen;
	int rc = deflate(s, flush);
	*consumed = inlen - s->avail_in; *produced = outlen - s->avail_out;
	s->next_in = Z_NULL; s->avail_in = 0; s->next_out = Z_NULL; s->avail_out = 0;
	return rc;
}

static int ph_inflate(z_stream *s, unsigned char *in, size_t inlen, unsigned char *out, size_t outlen, size_t *consumed, size_t *produced) {
	s->next_in = in; s->avail_in = (uInt)inlen;
	s->next_out = out; s->avail_out = (uInt)outlen;
	int rc = inflate(s, Z_NO_FLUSH);
	*consumed = inlen - s->avail_in; *produced = outlen - s->avail_out;
	s->next_in = Z_NULL; s->avail_in = 0; s->next_out = Z_NULL; s->avail_out = 0;
	return rc;
}
*/
import "C"

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"unsafe"
)

// zlib's uInt bounds one call's buffers.
const maxChunk = 1 << 30

func bytesPtr(b []byte) *C.uchar {
	if len(b) == 0 {
		return nil
	}
	return (*C.uchar)(unsafe.Pointer(&b[0]))
}

// zDeflater is a raw-deflate io.WriteCloser over zlib.
type zDeflater struct {
	s   *C.z_stream
	w   io.Writer
	out []byte
	err error
}

var deflaterPools [10]sync.Pool

func getDeflater(w io.Writer, level int) (deflater, error) {
	if level < 0 || level > 9 {
		return nil, fmt.Errorf("invalid compression level %d", level)
	}
	if d, ok := deflaterPools[level].Get().(*zDeflater); ok {
		d.w, d.err = w, nil
		return d, nil
	}
	s := C.ph_new_deflate(C.int(level))
	if s == nil {
		return nil, errors.New("cannot initialise zlib deflate")
	}
	d := &zDeflater{s: s, w: w, out: make([]byte, 64<<10)}
	runtime.SetFinalizer(d, func(d *zDeflater) { C.ph_free_deflate(d.s) })
	return d, nil
}

func putDeflater(d deflater, level int) {
	zd := d.(*zDeflater)
	C.deflateReset(zd.s)
	zd.w, zd.err = nil, nil
	deflaterPools[level].Put(zd)
}

func (d *zDeflater) run(p []byte, flush C.int) error {
	if d.err != nil {
		return d.err
	}
	for {
		in := p
		if len(in) > maxChunk {
			in = in[:maxChunk]
		}
		var consumed, produced C.size_t
		rc := C.ph_deflate(d.s, bytesPtr(in), C.size_t(len(in)), bytesPtr(d.out), C.size_t(len(d.out)), flush, &consumed, &produced)
		runtime.KeepAlive(p)
		if rc != C.Z_OK && rc != C.Z_STREAM_END && rc != C.Z_BUF_ERROR {
			d.err = fmt.Errorf("zlib deflate error %d", int(rc))
			return d.err
		}
		if produced > 0 {
			if _, err := d.w.Write(d.out[:produced]); err != nil {
				d.err = err
				return err
			}
		}
		p = p[consumed:]
		if flush == C.Z_FINISH {
			if rc == C.Z_STREAM_END {
				return nil
			}
			continue
		}
		if len(p) == 0 && int(produced) < len(d.out) {
			return nil
		}
	}
}

func (d *zDeflater) Write(p []byte) (int, error) {
	if err := d.run(p, C.Z_NO_FLUSH); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Close ends the deflate stream; it does not close the underlying writer.
func (d *zDeflater) Close() error { return d.run(nil, C.Z_FINISH) }

// zInflater is a raw-deflate reader over zlib that takes from br exactly
// the bytes of the deflate stream, leaving what follows in br.
type zInflater struct {
	s     *C.z_stream
	br    *bufio.Reader
	ended bool
	err   error
}

var inflaterPool sync.Pool

func getInflater(br *bufio.Reader) (io.ReadCloser, error) {
	if z, ok := inflaterPool.Get().(*zInflater); ok {
		z.br, z.ended, z.err = br, false, nil
		return z, nil
	}
	s := C.ph_new_inflate()
	if s == nil {
		return nil, errors.New("cannot initialise zlib inflate")
	}
	z := &zInflater{s: s, br: br}
	runtime.SetFinalizer(z, func(z *zInflater) { C.ph_free_inflate(z.s) })
	return z, nil
}

func putInflater(rc io.ReadCloser) {
	z := rc.(*zInflater)
	C.inflateReset(z.s)
	z.br = nil
	inflaterPool.Put(z)
}

func (z *zInflater) Read(p []byte) (int, error) {
	if z.err != nil {
		return 0, z.err
	}
	if z.ended {
		return 0, io.EOF
	}
	if len(p) > maxChunk {
		p = p[:maxChunk]
	}
	for {
		if z.br.Buffered() == 0 {
			if _, err := z.br.Peek(1); err != nil {
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				z.err = err
				return 0, err
			}
		}
		in, _ := z.br.Peek(z.br.Buffered())
		var consumed, produced C.size_t
		rc := C.ph_inflate(z.s, bytesPtr(in), C.size_t(len(in)), bytesPtr(p), C.size_t(len(p)), &consumed, &produced)
		runtime.KeepAlive(in)
		runtime.KeepAlive(p)
		z.br.Discard(int(consumed))
		switch rc {
		case C.Z_STREAM_END:
			z.ended = true
			if produced == 0 {
				return 0, io.EOF
			}
			return int(produced), nil
		case C.Z_OK, C.Z_BUF_ERROR:
			if produced > 0 {
				return int(produced), nil
			}
			if len(p) == 0 {
				return 0, nil
			}
			if consumed == 0 && rc == C.Z_BUF_ERROR && z.br.Buffered() > 0 {
				z.err = errors.New("zlib inflate made no progress")
				return 0, z.err
			}
		default:
			z.err = fmt.Errorf("invalid deflate data (zlib error %d)", int(rc))
			return 0, z.err
		}
	}
}

// Close releases nothing by itself; putInflater recycles the stream.
func (z *zInflater) Close() error { return nil }
