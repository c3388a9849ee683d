//go:build !cgo

package object

import (
	"bufio"
	"compress/flate"
	"io"
	"sync"
)

// Without cgo, compress/flate does the raw deflate (slower than zlib).

var deflaterPools [10]sync.Pool

func getDeflater(w io.Writer, level int) (deflater, error) {
	if level >= 0 && level < len(deflaterPools) {
		if zw, ok := deflaterPools[level].Get().(*flate.Writer); ok {
			zw.Reset(w)
			return zw, nil
		}
	}
	return flate.NewWriter(w, level)
}

func putDeflater(d deflater, level int) {
	zw := d.(*flate.Writer)
	if level >= 0 && level < len(deflaterPools) {
		zw.Reset(io.Discard)
		deflaterPools[level].Put(zw)
	}
}

var inflaterPool sync.Pool

func getInflater(br *bufio.Reader) (io.ReadCloser, error) {
	if p, ok := inflaterPool.Get().(io.ReadCloser); ok {
		p.(flate.Resetter).Reset(br, nil)
		return p, nil
	}
	return flate.NewReader(br), nil
}

func putInflater(rc io.ReadCloser) {
	rc.Close()
	inflaterPool.Put(rc)
}
