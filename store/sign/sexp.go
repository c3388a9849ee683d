package sign

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
)

// sexp is a parsed S-expression: either an atom (list == nil, atom set) or
// a list of sexps.
type sexp struct {
	atom   []byte
	list   []*sexp
	isList bool
}

// find returns the first sub-list whose first element is the atom name.
func (s *sexp) find(name string) *sexp {
	if s == nil || !s.isList {
		return nil
	}
	for _, c := range s.list {
		if c.isList && len(c.list) > 0 && !c.list[0].isList && string(c.list[0].atom) == name {
			return c
		}
	}
	return nil
}

// head is the name of a list: its first atom.
func (s *sexp) head() string {
	if s == nil || !s.isList || len(s.list) == 0 || s.list[0].isList {
		return ""
	}
	return string(s.list[0].atom)
}

// value returns the atom after name in the sub-list (name value).
func (s *sexp) value(name string) []byte {
	l := s.find(name)
	if l == nil || len(l.list) < 2 || l.list[1].isList {
		return nil
	}
	return l.list[1].atom
}

var errSexp = errors.New("malformed S-expression")

// parseSexp parses the canonical and the advanced (human-readable) S-expression
// transport forms libgcrypt writes: lists, tokens, "strings", #hex#, |base64|
// and length-prefixed N:bytes atoms.
func parseSexp(data []byte) (*sexp, error) {
	p := &sexpParser{data: data}
	p.skipSpace()
	s, err := p.parse(0)
	if err != nil {
		return nil, err
	}
	return s, nil
}

type sexpParser struct {
	data []byte
	pos  int
}

func (p *sexpParser) skipSpace() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r', '\f', '\v':
			p.pos++
		default:
			return
		}
	}
}

func (p *sexpParser) parse(depth int) (*sexp, error) {
	if depth > 64 {
		return nil, fmt.Errorf("%w: nested too deeply", errSexp)
	}
	if p.pos >= len(p.data) {
		return nil, fmt.Errorf("%w: unexpected end", errSexp)
	}
	c := p.data[p.pos]
	if c == '(' {
		p.pos++
		s := &sexp{isList: true}
		for {
			p.skipSpace()
			if p.pos >= len(p.data) {
				return nil, fmt.Errorf("%w: unclosed list", errSexp)
			}
			if p.data[p.pos] == ')' {
				p.pos++
				return s, nil
			}
			child, err := p.parse(depth + 1)
			if err != nil {
				return nil, err
			}
			s.list = append(s.list, child)
		}
	}
	atom, err := p.atom()
	if err != nil {
		return nil, err
	}
	return &sexp{atom: atom}, nil
}

func isTokenByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		bytes.IndexByte([]byte("-./_:*+="), c) >= 0
}

func (p *sexpParser) atom() ([]byte, error) {
	d := p.data
	start := p.pos
	switch c := d[p.pos]; {
	case c >= '0' && c <= '9':
		// Either N:bytes (canonical) or a token starting with a digit.
		i := p.pos
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		if i < len(d) && d[i] == ':' {
			n, err := strconv.Atoi(string(d[p.pos:i]))
			if err != nil || n > len(d)-i-1 {
				return nil, fmt.Errorf("%w: bad length at %d", errSexp, start)
			}
			p.pos = i + 1 + n
			return d[i+1 : i+1+n], nil
		}
		return p.token()
	case c == '#':
		end := bytes.IndexByte(d[p.pos+1:], '#')
		if end < 0 {
			return nil, fmt.Errorf("%w: unterminated hex at %d", errSexp, start)
		}
		h := bytes.Map(func(r rune) rune {
			if r == ' ' || r == '\n' || r == '\t' || r == '\r' {
				return -1
			}
			return r
		}, d[p.pos+1:p.pos+1+end])
		p.pos += end + 2
		out := make([]byte, hex.DecodedLen(len(h)))
		if _, err := hex.Decode(out, h); err != nil {
			return nil, fmt.Errorf("%w: bad hex at %d", errSexp, start)
		}
		return out, nil
	case c == '|':
		end := bytes.IndexByte(d[p.pos+1:], '|')
		if end < 0 {
			return nil, fmt.Errorf("%w: unterminated base64 at %d", errSexp, start)
		}
		b := bytes.Map(func(r rune) rune {
			if r == ' ' || r == '\n' || r == '\t' || r == '\r' {
				return -1
			}
			return r
		}, d[p.pos+1:p.pos+1+end])
		p.pos += end + 2
		out, err := base64.StdEncoding.DecodeString(string(b))
		if err != nil {
			return nil, fmt.Errorf("%w: bad base64 at %d", errSexp, start)
		}
		return out, nil
	case c == '"':
		return p.quoted()
	case isTokenByte(c):
		return p.token()
	default:
		return nil, fmt.Errorf("%w: unexpected %q at %d", errSexp, c, start)
	}
}

func (p *sexpParser) token() ([]byte, error) {
	start := p.pos
	for p.pos < len(p.data) && isTokenByte(p.data[p.pos]) {
		p.pos++
	}
	return p.data[start:p.pos], nil
}

func (p *sexpParser) quoted() ([]byte, error) {
	var out []byte
	p.pos++
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		p.pos++
		switch c {
		case '"':
			return out, nil
		case '\\':
			if p.pos >= len(p.data) {
				return nil, fmt.Errorf("%w: bad escape", errSexp)
			}
			e := p.data[p.pos]
			p.pos++
			switch e {
			case 'n':
				out = append(out, '\n')
			case 't':
				out = append(out, '\t')
			case 'r':
				out = append(out, '\r')
			case '\n':
			default:
				out = append(out, e)
			}
		default:
			out = append(out, c)
		}
	}
	return nil, fmt.Errorf("%w: unterminated string", errSexp)
}
