package sign

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
)

// OpenPGP packet tags used when writing keyring files.
const (
	tagSignature = 2
	tagSecretKey = 5
	tagPublicKey = 6
	tagSecretSub = 7
	tagTrust     = 12
	tagUserID    = 13
	tagPublicSub = 14
	tagUserAttr  = 17
)

// rawPacket is one OpenPGP packet as it appears in the input, header included.
type rawPacket struct {
	tag  int
	data []byte // header + body
	body []byte
}

// splitPackets cuts a binary OpenPGP stream into packets without parsing
// their bodies. Partial body lengths are not allowed in keys.
func splitPackets(b []byte) ([]rawPacket, error) {
	var out []rawPacket
	for off := 0; off < len(b); {
		start := off
		ctb := b[off]
		if ctb&0x80 == 0 {
			return nil, fmt.Errorf("bad packet header at %d", off)
		}
		off++
		var tag, n int
		if ctb&0x40 != 0 { // new format
			tag = int(ctb & 0x3f)
			if off >= len(b) {
				return nil, io.ErrUnexpectedEOF
			}
			switch l := b[off]; {
			case l < 192:
				n, off = int(l), off+1
			case l < 224:
				if off+1 >= len(b) {
					return nil, io.ErrUnexpectedEOF
				}
				n, off = (int(l)-192)<<8+int(b[off+1])+192, off+2
			case l == 255:
				if off+5 > len(b) {
					return nil, io.ErrUnexpectedEOF
				}
				n, off = int(binary.BigEndian.Uint32(b[off+1:])), off+5
			default:
				return nil, fmt.Errorf("partial-length packet at %d in a key", start)
			}
		} else { // old format
			tag = int(ctb>>2) & 0xf
			switch ctb & 3 {
			case 0:
				if off >= len(b) {
					return nil, io.ErrUnexpectedEOF
				}
				n, off = int(b[off]), off+1
			case 1:
				if off+2 > len(b) {
					return nil, io.ErrUnexpectedEOF
				}
				n, off = int(binary.BigEndian.Uint16(b[off:])), off+2
			case 2:
				if off+4 > len(b) {
					return nil, io.ErrUnexpectedEOF
				}
				n, off = int(binary.BigEndian.Uint32(b[off:])), off+4
			default:
				return nil, fmt.Errorf("indeterminate-length packet at %d in a key", start)
			}
		}
		if n < 0 || n > len(b)-off {
			return nil, io.ErrUnexpectedEOF
		}
		out = append(out, rawPacket{tag: tag, data: b[start : off+n], body: b[off : off+n]})
		off += n
	}
	return out, nil
}

// dearmor returns the binary form of possibly armored key data (all blocks).
func dearmor(data []byte) ([]byte, error) {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if !bytes.HasPrefix(trimmed, []byte("-----BEGIN PGP")) {
		return data, nil
	}
	var out bytes.Buffer
	r := bytes.NewReader(trimmed)
	for {
		block, err := armor.Decode(r)
		if err == io.EOF || (err != nil && out.Len() > 0) {
			break
		}
		if err != nil {
			return nil, err
		}
		if _, err := io.Copy(&out, block.Body); err != nil {
			return nil, err
		}
	}
	return out.Bytes(), nil
}

// GnuPG ring-trust packets as gpg writes them into keyring files: after a key
// (subtype 1; primary keys only) or user id (subtype 2) an empty trust record, after a
// signature the "checked and valid" signature cache flag.
var (
	trustKey = []byte{0xb0, 0x0c, 0x00, 0x00, 'g', 'p', 'g', 0x01, 0, 0, 0, 0, 0, 0}
	trustUID = []byte{0xb0, 0x0c, 0x00, 0x00, 'g', 'p', 'g', 0x02, 0, 0, 0, 0, 0, 0}
	trustSig = []byte{0xb0, 0x06, 0x00, 0x03, 'g', 'p', 'g', 0x00}
)

// KeyringFile renders public keys (binary or armored, as gpg --export
// writes them) the way GnuPG stores them in a keyring file such as
// <repo>/<remote>.trustedkeys.gpg: the original packets, each followed by a
// trust packet. Keys whose fingerprint is in skip are left out. It returns
// the bytes and the fingerprints (upper-case hex) of the keys written.
func KeyringFile(data []byte, skip map[string]bool) ([]byte, []string, error) {
	bin, err := dearmor(data)
	if err != nil {
		return nil, nil, fmt.Errorf("reading keys: %w", err)
	}
	el, err := ReadKeys(bin)
	if err != nil {
		return nil, nil, err
	}
	pkts, err := splitPackets(bin)
	if err != nil {
		return nil, nil, fmt.Errorf("reading keys: %w", err)
	}
	var out bytes.Buffer
	var fprs []string
	ki := -1
	keep := false
	for _, p := range pkts {
		switch p.tag {
		case tagPublicKey, tagSecretKey:
			ki++
			if ki >= len(el) {
				return nil, nil, errors.New("reading keys: key count mismatch")
			}
			fpr := fmt.Sprintf("%X", el[ki].PrimaryKey.Fingerprint)
			keep = !skip[fpr]
			if keep {
				fprs = append(fprs, fpr)
			}
			if p.tag == tagSecretKey {
				return nil, nil, errors.New("reading keys: secret keys cannot be imported into a keyring of trusted public keys")
			}
			if keep {
				out.Write(p.data)
				out.Write(trustKey)
			}
		case tagPublicSub: // gpg writes no trust packet after a subkey
			if keep {
				out.Write(p.data)
			}
		case tagSecretSub:
			return nil, nil, errors.New("reading keys: secret keys cannot be imported into a keyring of trusted public keys")
		case tagUserID, tagUserAttr:
			if keep {
				out.Write(p.data)
				out.Write(trustUID)
			}
		case tagSignature:
			if keep {
				out.Write(p.data)
				out.Write(trustSig)
			}
		case tagTrust:
		default:
			if keep {
				out.Write(p.data)
			}
		}
	}
	return out.Bytes(), fprs, nil
}

// ImportKeys adds the public keys in data (binary or armored) to the keyring
// file at path, creating it, as `ostree remote add --gpg-import` does; keys
// already in the file are skipped. It returns how many keys were added.
func ImportKeys(path string, data []byte) (int, error) {
	skip := map[string]bool{}
	existing, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("reading keyring: %w", err)
	}
	if len(existing) > 0 {
		el, err := ReadKeys(existing)
		if err != nil {
			return 0, fmt.Errorf("reading keyring %s: %w", path, err)
		}
		for _, e := range el {
			skip[fmt.Sprintf("%X", e.PrimaryKey.Fingerprint)] = true
		}
	}
	add, fprs, err := KeyringFile(data, skip)
	if err != nil {
		return 0, err
	}
	if len(fprs) == 0 {
		return 0, nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".keyring-*")
	if err != nil {
		return 0, fmt.Errorf("writing keyring: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(existing[:len(existing):len(existing)], add...)); err != nil {
		tmp.Close()
		return 0, fmt.Errorf("writing keyring: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return 0, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return 0, err
	}
	if err := tmp.Close(); err != nil {
		return 0, err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return 0, fmt.Errorf("writing keyring: %w", err)
	}
	return len(fprs), nil
}
