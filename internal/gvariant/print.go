package gvariant

import (
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// String returns v in GLib's text format as g_variant_print(v, FALSE)
// prints it (GLib 2.74): type annotations only inside variants, where they
// are needed to parse the text back.
func (v Value) String() string {
	if v.t == nil {
		return "<invalid>"
	}
	var b strings.Builder
	printValue(&b, v, false)
	return b.String()
}

func printValue(b *strings.Builder, v Value, annotate bool) {
	t := v.t
	switch t.kind {
	case 'm':
		if annotate {
			b.WriteString("@" + t.str + " ")
		}
		if len(v.data) == 0 {
			b.WriteString("nothing")
			return
		}
		// GLib 2.74 prints the child alone and adds "just " when that text
		// ends with "nothing", so Just(Nothing) stays distinguishable.
		var c strings.Builder
		printValue(&c, v.Index(0), false)
		if strings.HasSuffix(c.String(), "nothing") {
			b.WriteString("just ")
		}
		b.WriteString(c.String())
	case 'a':
		if t.elem.kind == 'y' {
			if i := bytesIndexZero(v.data); len(v.data) > 0 && i == len(v.data)-1 {
				s := v.data[:i]
				if strings.IndexByte(string(s), '\'') >= 0 {
					b.WriteString(`b"`)
					strescape(b, s)
					b.WriteByte('"')
				} else {
					b.WriteString(`b'`)
					strescape(b, s)
					b.WriteByte('\'')
				}
				return
			}
		}
		n := v.Len()
		if n == 0 {
			if annotate {
				b.WriteString("@" + t.str + " ")
			}
			if t.elem.kind == '{' {
				b.WriteString("{}")
			} else {
				b.WriteString("[]")
			}
			return
		}
		if t.elem.kind == '{' {
			b.WriteByte('{')
			for i := 0; i < n; i++ {
				if i > 0 {
					b.WriteString(", ")
				}
				e := v.Index(i)
				printValue(b, e.Index(0), annotate)
				b.WriteString(": ")
				printValue(b, e.Index(1), annotate)
				annotate = false
			}
			b.WriteByte('}')
			return
		}
		b.WriteByte('[')
		for i := 0; i < n; i++ {
			if i > 0 {
				b.WriteString(", ")
			}
			printValue(b, v.Index(i), annotate)
			annotate = false
		}
		b.WriteByte(']')
	case '(':
		b.WriteByte('(')
		n := len(t.members)
		for i := 0; i < n; i++ {
			if i > 0 {
				b.WriteString(", ")
			}
			printValue(b, v.Index(i), annotate)
		}
		if n == 1 {
			b.WriteByte(',')
		}
		b.WriteByte(')')
	case '{':
		b.WriteByte('{')
		printValue(b, v.Index(0), annotate)
		b.WriteString(", ")
		printValue(b, v.Index(1), annotate)
		b.WriteByte('}')
	case 'v':
		b.WriteByte('<')
		printValue(b, v.Unbox(), true)
		b.WriteByte('>')
	case 'b':
		if v.data[0] != 0 {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case 's':
		printString(b, string(v.StrBytes()))
	case 'y':
		if annotate {
			b.WriteString("byte ")
		}
		b.WriteString("0x")
		const hex = "0123456789abcdef"
		b.WriteByte(hex[v.data[0]>>4])
		b.WriteByte(hex[v.data[0]&15])
	case 'n':
		annotated(b, annotate, "int16 ", strconv.FormatInt(int64(v.Int16()), 10))
	case 'q':
		annotated(b, annotate, "uint16 ", strconv.FormatUint(uint64(v.Uint16()), 10))
	case 'i':
		b.WriteString(strconv.FormatInt(int64(v.Int32()), 10))
	case 'h':
		annotated(b, annotate, "handle ", strconv.FormatInt(int64(v.Handle()), 10))
	case 'u':
		annotated(b, annotate, "uint32 ", strconv.FormatUint(uint64(v.Uint32()), 10))
	case 'x':
		annotated(b, annotate, "int64 ", strconv.FormatInt(v.Int64(), 10))
	case 't':
		annotated(b, annotate, "uint64 ", strconv.FormatUint(v.Uint64(), 10))
	case 'd':
		b.WriteString(formatDouble(v.Double()))
	case 'o':
		annotated(b, annotate, "objectpath ", "'"+v.Str()+"'")
	case 'g':
		annotated(b, annotate, "signature ", "'"+v.Str()+"'")
	}
}

func annotated(b *strings.Builder, annotate bool, prefix, s string) {
	if annotate {
		b.WriteString(prefix)
	}
	b.WriteString(s)
}

func bytesIndexZero(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return -1
}

// formatDouble mimics g_ascii_dtostr ("%.17g") plus GLib's ".0" suffix for
// numbers that would otherwise read back as integers.
func formatDouble(f float64) string {
	var s string
	switch {
	case math.IsNaN(f):
		s = "nan"
		if math.Signbit(f) {
			s = "-nan"
		}
		return s
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	s = strconv.FormatFloat(f, 'g', 17, 64)
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return s
}

// strescape is g_strescape(s, NULL) on bytes.
func strescape(b *strings.Builder, s []byte) {
	for _, c := range s {
		switch c {
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\v':
			b.WriteString(`\v`)
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		default:
			if c < ' ' || c >= 0x7f {
				b.WriteByte('\\')
				b.WriteByte('0' + (c>>6)&7)
				b.WriteByte('0' + (c>>3)&7)
				b.WriteByte('0' + c&7)
			} else {
				b.WriteByte(c)
			}
		}
	}
}

func printString(b *strings.Builder, s string) {
	quote := '\''
	if strings.IndexByte(s, '\'') >= 0 {
		quote = '"'
	}
	b.WriteRune(quote)
	for _, c := range s {
		if c == quote || c == '\\' {
			b.WriteByte('\\')
		}
		if isPrint(c) {
			b.WriteRune(c)
			continue
		}
		b.WriteByte('\\')
		switch c {
		case '\a':
			b.WriteByte('a')
		case '\b':
			b.WriteByte('b')
		case '\f':
			b.WriteByte('f')
		case '\n':
			b.WriteByte('n')
		case '\r':
			b.WriteByte('r')
		case '\t':
			b.WriteByte('t')
		case '\v':
			b.WriteByte('v')
		default:
			if c < 0x10000 {
				b.WriteString("u" + pad(strconv.FormatUint(uint64(c), 16), 4))
			} else {
				b.WriteString("U" + pad(strconv.FormatUint(uint64(c), 16), 8))
			}
		}
	}
	b.WriteRune(quote)
}

func pad(s string, n int) string {
	for len(s) < n {
		s = "0" + s
	}
	return s
}

// isPrint is g_unichar_isprint: everything but control, format,
// surrogate and unassigned code points (spaces and private use count as
// printable).
func isPrint(r rune) bool {
	if r == utf8.RuneError {
		return true // U+FFFD is an assigned symbol
	}
	if unicode.In(r, unicode.Cc, unicode.Cf, unicode.Cs) {
		return false
	}
	return unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z, unicode.Co)
}
