package object

import (
	"bytes"
	"compress/flate"
	"crypto/rand"
	"errors"
	"io"
	"testing"
)

// TestFilezDeflateInterop: our .filez payloads inflate with
// compress/flate, compress/flate payloads inflate with ours, for sizes
// around the buffer boundaries; truncated, longer-than-header and
// trailing-garbage payloads are refused.
func TestFilezDeflateInterop(t *testing.T) {
	for _, size := range []int{0, 1, 100, 32 << 10, 64<<10 + 1, 1 << 20, 3<<20 + 7} {
		data := make([]byte, size)
		rand.Read(data[:size/2]) // half random, half zeros
		h := FileHeader{Mode: ModeRegular | 0o644, Size: uint64(size)}

		var ours bytes.Buffer
		if err := WriteFilez(&ours, &h, bytes.NewReader(data), DefaultCompressionLevel); err != nil {
			t.Fatal(err)
		}
		hdrLen := len(FilezHeader(&h))
		got, err := io.ReadAll(flate.NewReader(bytes.NewReader(ours.Bytes()[hdrLen:])))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("size %d: compress/flate reads our payload: %v, equal=%v", size, err, bytes.Equal(got, data))
		}

		var theirs bytes.Buffer
		theirs.Write(FilezHeader(&h))
		zw, _ := flate.NewWriter(&theirs, 6)
		zw.Write(data)
		zw.Close()
		for name, in := range map[string][]byte{"ours": ours.Bytes(), "flate": theirs.Bytes()} {
			_, rc, err := ReadFilez(bytes.NewReader(in))
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("size %d, %s: ReadFilez: %v, equal=%v", size, name, err, bytes.Equal(got, data))
			}
		}

		bad := map[string][]byte{
			"trailing":  append(bytes.Clone(ours.Bytes()), 0),
			"truncated": ours.Bytes()[:ours.Len()-1],
		}
		if size > 0 {
			short := h
			short.Size--
			var b bytes.Buffer
			b.Write(FilezHeader(&short))
			b.Write(ours.Bytes()[hdrLen:])
			bad["longer than header"] = b.Bytes()
		}
		for name, in := range bad {
			_, rc, err := ReadFilez(bytes.NewReader(in))
			if err == nil {
				_, err = io.ReadAll(rc)
				rc.Close()
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("size %d, %s: err = %v, want ErrInvalid", size, name, err)
			}
		}
	}
}
