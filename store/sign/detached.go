package sign

import (
	"fmt"

	"github.com/porthole-dev/porthole/internal/gvariant"
)

// GPGSigsKey is the detached-metadata key holding the signatures (aay).
const GPGSigsKey = "ostree.gpgsigs"

var (
	tVarDict = gvariant.MustType("a{sv}")
	tEntry   = gvariant.MustType("{sv}")
	tAAY     = gvariant.MustType("aay")
	tAY      = gvariant.MustType("ay")
)

// Signatures returns the signatures in detached metadata (the bytes of a
// .commitmeta object or of summary.sig). Empty data has none. Other keys are
// ignored; an ostree.gpgsigs value of a type other than aay is an error.
func Signatures(detached []byte) ([][]byte, error) {
	if len(detached) == 0 {
		return nil, nil
	}
	meta, err := gvariant.Unmarshal(tVarDict, detached)
	if err != nil {
		return nil, fmt.Errorf("reading detached metadata: %w", err)
	}
	v, ok := meta.Lookup(GPGSigsKey)
	if !ok {
		return nil, nil
	}
	if !v.Type().Equal(tAAY) {
		return nil, fmt.Errorf("reading detached metadata: %s has type %s, want aay: %w", GPGSigsKey, v.Type(), gvariant.ErrInvalid)
	}
	sigs := make([][]byte, v.Len())
	for i := range sigs {
		sigs[i] = v.Index(i).ByteSlice()
	}
	return sigs, nil
}

// AppendSignature returns detached metadata with sig added after the
// signatures already in existing (which may be empty); other keys are kept
// in their order.
func AppendSignature(existing, sig []byte) ([]byte, error) {
	var entries []gvariant.Value
	var sigs []gvariant.Value
	if len(existing) > 0 {
		meta, err := gvariant.Unmarshal(tVarDict, existing)
		if err != nil {
			return nil, fmt.Errorf("reading detached metadata: %w", err)
		}
		for i := 0; i < meta.Len(); i++ {
			e := meta.Index(i)
			if e.Index(0).Str() != GPGSigsKey {
				entries = append(entries, e)
				continue
			}
			v := e.Index(1).Unbox()
			if !v.Type().Equal(tAAY) {
				return nil, fmt.Errorf("reading detached metadata: %s has type %s, want aay: %w", GPGSigsKey, v.Type(), gvariant.ErrInvalid)
			}
			for j := 0; j < v.Len(); j++ {
				sigs = append(sigs, v.Index(j))
			}
		}
	}
	sigs = append(sigs, gvariant.Bytes(sig))
	entries = append(entries, gvariant.DictEntry(gvariant.String(GPGSigsKey), gvariant.Variant(gvariant.Array(tAY, sigs...))))
	return gvariant.Marshal(gvariant.Array(tEntry, entries...)), nil
}
