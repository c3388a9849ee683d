package keyfile

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Separator separates list elements.
const Separator = ';'

// Escape encodes s as a key file string value: backslash, newline and
// carriage return are escaped, and so are spaces and tabs at the start (and,
// with list set, at the start of each element, where ';' is escaped too).
func Escape(s string, list bool) string {
	var b strings.Builder
	leading := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' && leading:
			b.WriteString(`\s`)
		case c == '\t' && leading:
			b.WriteString(`\t`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\\':
			b.WriteString(`\\`)
			leading = false
		case c == Separator && list:
			b.WriteString(`\;`)
			leading = true
		default:
			b.WriteByte(c)
			if c != ' ' && c != '\t' {
				leading = false
			}
		}
	}
	return b.String()
}

// Unescape decodes a raw key file string value as g_key_file_get_string
// does. On an invalid escape it returns GLib's decoding with the error.
func Unescape(raw string) (string, error) {
	s, _, err := unescape(raw, false)
	return s, err
}

// UnescapeList decodes a raw ';'-separated list value as
// g_key_file_get_string_list does, with the same error rule as Unescape.
func UnescapeList(raw string) ([]string, error) {
	_, l, err := unescape(raw, true)
	return l, err
}

// unescape decodes a raw value. With list set it splits at unescaped
// separators, dropping an empty last element (so "a;b;" is [a b]), and
// accepts \; as an escape; otherwise \; is an error, as in GLib. On an
// invalid escape it still returns the string decoded as GLib does: the
// backslash and the character are kept, and a final lone backslash is
// dropped.
func unescape(raw string, list bool) (string, []string, error) {
	var b strings.Builder
	var pieces []string
	var err error
	start := 0 // start of the current piece in b
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			b.WriteByte(c)
			if list && c == Separator {
				s := b.String()
				pieces = append(pieces, s[start:len(s)-1])
				start = len(s)
			}
			continue
		}
		i++
		if i == len(raw) {
			if err == nil {
				err = fmt.Errorf("%w: escape character at end of line", ErrInvalidValue)
			}
			break
		}
		switch raw[i] {
		case 's':
			b.WriteByte(' ')
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case '\\':
			b.WriteByte('\\')
		default:
			if list && raw[i] == Separator {
				b.WriteByte(Separator)
				break
			}
			b.WriteByte('\\')
			b.WriteByte(raw[i])
			if err == nil {
				err = fmt.Errorf("%w: invalid escape sequence \\%c", ErrInvalidValue, raw[i])
			}
		}
	}
	s := b.String()
	if list && start < len(s) {
		pieces = append(pieces, s[start:])
	}
	return s, pieces, err
}

func (f *File) utf8Value(group, key string) (string, error) {
	v, err := f.Value(group, key)
	if err != nil {
		return "", err
	}
	if !utf8.ValidString(v) {
		return "", fmt.Errorf("key %q in group %q: value is not UTF-8: %w", key, group, ErrUnknownEncoding)
	}
	return v, nil
}

func invalid(group, key string, err error) error {
	return fmt.Errorf("key %q in group %q: %w", key, group, err)
}

// String returns the value of key with its escapes decoded.
func (f *File) String(group, key string) (string, error) {
	v, err := f.utf8Value(group, key)
	if err != nil {
		return "", err
	}
	s, _, err := unescape(v, false)
	if err != nil {
		return "", invalid(group, key, err)
	}
	return s, nil
}

// SetString sets key to s, escaped.
func (f *File) SetString(group, key, s string) error {
	return f.SetValue(group, key, Escape(s, false))
}

// StringList returns the ';'-separated elements of key, decoded. A final
// separator ends the last element rather than starting an empty one.
func (f *File) StringList(group, key string) ([]string, error) {
	v, err := f.utf8Value(group, key)
	if err != nil {
		return nil, err
	}
	_, pieces, err := unescape(v, true)
	if err != nil {
		return nil, invalid(group, key, err)
	}
	return pieces, nil
}

// SetStringList sets key to the elements of list, each escaped and followed
// by ';'.
func (f *File) SetStringList(group, key string, list []string) error {
	var b strings.Builder
	for _, s := range list {
		b.WriteString(Escape(s, true))
		b.WriteByte(Separator)
	}
	return f.SetValue(group, key, b.String())
}

// parseBool accepts true, false, 1 and 0, with trailing whitespace.
func parseBool(v string) (bool, error) {
	switch trimRightSpace(v) {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, fmt.Errorf("%w: %q is not a boolean", ErrInvalidValue, v)
}

func formatBool(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// Bool returns the boolean value of key: true, false, 1 or 0.
func (f *File) Bool(group, key string) (bool, error) {
	v, err := f.Value(group, key)
	if err != nil {
		return false, err
	}
	b, err := parseBool(v)
	if err != nil {
		return false, invalid(group, key, err)
	}
	return b, nil
}

// SetBool sets key to true or false.
func (f *File) SetBool(group, key string, b bool) error {
	return f.SetValue(group, key, formatBool(b))
}

// BoolList returns the list value of key as booleans.
func (f *File) BoolList(group, key string) ([]bool, error) {
	list, err := f.StringList(group, key)
	if err != nil {
		return nil, err
	}
	out := make([]bool, len(list))
	for i, s := range list {
		if out[i], err = parseBool(s); err != nil {
			return nil, invalid(group, key, err)
		}
	}
	return out, nil
}

// SetBoolList sets key to a list of true and false.
func (f *File) SetBoolList(group, key string, list []bool) error {
	var b strings.Builder
	for _, x := range list {
		b.WriteString(formatBool(x) + ";")
	}
	return f.SetValue(group, key, b.String())
}

// scanInt parses like C strtol/strtoll in base 10: leading whitespace, an
// optional sign, digits. It returns the value (clamped on overflow), the
// index after the digits (0 when there are none) and whether it overflowed.
func scanInt(s string) (v uint64, neg bool, end int, overflow bool) {
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	digits := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		d := uint64(s[i] - '0')
		if v > (math.MaxUint64-d)/10 {
			overflow = true
		} else {
			v = v*10 + d
		}
		i++
	}
	if i == digits {
		return 0, false, 0, false
	}
	return v, neg, i, overflow
}

// toInt64 clamps like strtoll.
func toInt64(v uint64, neg, overflow bool) (int64, bool) {
	if neg {
		if overflow || v > 1<<63 {
			return math.MinInt64, true
		}
		return -int64(v), false
	}
	if overflow || v > math.MaxInt64 {
		return math.MaxInt64, true
	}
	return int64(v), false
}

// parseInt follows g_key_file_get_integer: strtol, then anything after the
// number must start with whitespace, and the result must fit 32 bits.
func parseInt(v string) (int, error) {
	u, neg, end, overflow := scanInt(v)
	if v == "" || (end < len(v) && !isSpace(v[end])) {
		return 0, fmt.Errorf("%w: %q is not a number", ErrInvalidValue, v)
	}
	n, clamped := toInt64(u, neg, overflow)
	if clamped || n < math.MinInt32 || n > math.MaxInt32 {
		return 0, fmt.Errorf("%w: integer %q out of range", ErrInvalidValue, v)
	}
	return int(n), nil
}

// Int returns the value of key as a 32-bit integer. Like GLib it ignores
// anything after the number when whitespace separates it.
func (f *File) Int(group, key string) (int, error) {
	v, err := f.Value(group, key)
	if err != nil {
		return 0, err
	}
	n, err := parseInt(v)
	if err != nil {
		return 0, invalid(group, key, err)
	}
	return n, nil
}

// SetInt sets key to n in decimal. n must fit 32 bits, as a GLib integer.
func (f *File) SetInt(group, key string, n int) error {
	if n < math.MinInt32 || n > math.MaxInt32 {
		return fmt.Errorf("key %q in group %q: %d does not fit 32 bits: %w", key, group, n, ErrInvalidValue)
	}
	return f.SetValue(group, key, strconv.Itoa(n))
}

// IntList returns the list value of key as 32-bit integers.
func (f *File) IntList(group, key string) ([]int, error) {
	list, err := f.StringList(group, key)
	if err != nil {
		return nil, err
	}
	out := make([]int, len(list))
	for i, s := range list {
		if out[i], err = parseInt(s); err != nil {
			return nil, invalid(group, key, err)
		}
	}
	return out, nil
}

// SetIntList sets key to a list of integers.
func (f *File) SetIntList(group, key string, list []int) error {
	var b strings.Builder
	for _, n := range list {
		if n < math.MinInt32 || n > math.MaxInt32 {
			return fmt.Errorf("key %q in group %q: %d does not fit 32 bits: %w", key, group, n, ErrInvalidValue)
		}
		b.WriteString(strconv.Itoa(n) + ";")
	}
	return f.SetValue(group, key, b.String())
}

// Int64 returns the value of key as a 64-bit integer; nothing may follow the
// number, and out-of-range values are clamped, as in GLib.
func (f *File) Int64(group, key string) (int64, error) {
	v, err := f.Value(group, key)
	if err != nil {
		return 0, err
	}
	u, neg, end, overflow := scanInt(v)
	if v == "" || end != len(v) {
		return 0, invalid(group, key, fmt.Errorf("%w: %q is not an integer", ErrInvalidValue, v))
	}
	n, _ := toInt64(u, neg, overflow)
	return n, nil
}

// SetInt64 sets key to n in decimal.
func (f *File) SetInt64(group, key string, n int64) error {
	return f.SetValue(group, key, strconv.FormatInt(n, 10))
}

// Uint64 returns the value of key as an unsigned 64-bit integer, with the
// quirks of strtoull: a leading '-' negates modulo 2^64, and out-of-range
// values are clamped.
func (f *File) Uint64(group, key string) (uint64, error) {
	v, err := f.Value(group, key)
	if err != nil {
		return 0, err
	}
	u, neg, end, overflow := scanInt(v)
	if v == "" || end != len(v) {
		return 0, invalid(group, key, fmt.Errorf("%w: %q is not an unsigned integer", ErrInvalidValue, v))
	}
	if overflow {
		return math.MaxUint64, nil
	}
	if neg {
		u = -u
	}
	return u, nil
}

// SetUint64 sets key to n in decimal.
func (f *File) SetUint64(group, key string, n uint64) error {
	return f.SetValue(group, key, strconv.FormatUint(n, 10))
}

// parseFloat follows g_ascii_strtod: leading whitespace, then the whole
// rest must be a C floating-point number (decimal, hex, inf, nan).
func parseFloat(v string) (float64, error) {
	s := trimLeftSpace(v)
	bad := fmt.Errorf("%w: %q is not a number", ErrInvalidValue, v)
	if s == "" || strings.ContainsAny(s, "_ \t\n\v\f\r") {
		return 0, bad
	}
	t := strings.TrimLeft(s, "+-")
	if len(s)-len(t) > 1 {
		return 0, bad
	}
	if strings.EqualFold(t, "nan") {
		// The quiet NaN of C's strtod, negative with a '-'.
		x := math.Float64frombits(0x7ff8000000000000)
		if s[0] == '-' {
			x = -x
		}
		return x, nil
	}
	if lt := strings.ToLower(t); strings.HasPrefix(lt, "0x") && !strings.Contains(lt, "p") {
		if len(lt) == 2 {
			return 0, bad
		}
		s += "p0"
	}
	x, err := strconv.ParseFloat(s, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return x, nil
		}
		return 0, bad
	}
	return x, nil
}

// formatFloat formats like g_ascii_dtostr ("%.17g").
func formatFloat(x float64) string {
	switch {
	case math.IsInf(x, 1):
		return "inf"
	case math.IsInf(x, -1):
		return "-inf"
	case math.IsNaN(x):
		if math.Signbit(x) {
			return "-nan"
		}
		return "nan"
	}
	return fmt.Sprintf("%.17g", x)
}

// Float64 returns the value of key as a double.
func (f *File) Float64(group, key string) (float64, error) {
	v, err := f.Value(group, key)
	if err != nil {
		return 0, err
	}
	x, err := parseFloat(v)
	if err != nil {
		return 0, invalid(group, key, err)
	}
	return x, nil
}

// SetFloat64 sets key to x, formatted with 17 significant digits as GLib.
func (f *File) SetFloat64(group, key string, x float64) error {
	return f.SetValue(group, key, formatFloat(x))
}

// Float64List returns the list value of key as doubles.
func (f *File) Float64List(group, key string) ([]float64, error) {
	list, err := f.StringList(group, key)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(list))
	for i, s := range list {
		if out[i], err = parseFloat(s); err != nil {
			return nil, invalid(group, key, err)
		}
	}
	return out, nil
}

// SetFloat64List sets key to a list of doubles.
func (f *File) SetFloat64List(group, key string, list []float64) error {
	var b strings.Builder
	for _, x := range list {
		b.WriteString(formatFloat(x) + ";")
	}
	return f.SetValue(group, key, b.String())
}
