package store

import (
	"bufio"
	"io"
	"sync"
)

var bufWriterPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 128<<10) }}

// newBufWriter returns a pooled buffered writer; release it with
// putBufWriter after the last Flush.
func newBufWriter(w io.Writer) *bufio.Writer {
	bw := bufWriterPool.Get().(*bufio.Writer)
	bw.Reset(w)
	return bw
}

func putBufWriter(bw *bufio.Writer) {
	bw.Reset(nil)
	bufWriterPool.Put(bw)
}
