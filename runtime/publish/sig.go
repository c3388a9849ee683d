package publish

import "github.com/porthole-dev/porthole/store/sign"

func appendSig(old, sig []byte) ([]byte, error) { return sign.AppendSignature(old, sig) }
