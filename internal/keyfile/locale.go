package keyfile

import (
	"os"
	"strings"
)

// LocaleVariants returns the locales to try for locale, most specific
// first, as g_get_locale_variants: "de_DE.UTF-8@euro" gives de_DE.UTF-8@euro,
// de_DE@euro, de.UTF-8@euro, de@euro, de_DE.UTF-8, de_DE, de.UTF-8, de.
func LocaleVariants(locale string) []string {
	const (
		codeset = 1 << iota
		territory
		modifier
	)
	// language[_territory][.codeset][@modifier], each part searched for
	// from the previous one on, as GLib does.
	index := func(c byte, from int) int {
		if i := strings.IndexByte(locale[from:], c); i >= 0 {
			return from + i
		}
		return -1
	}
	mask := 0
	uscore := index('_', 0)
	from := max(uscore, 0)
	dot := index('.', from)
	if dot >= 0 {
		from = dot
	}
	at := index('@', from)
	var terr, cs, mod string
	if at >= 0 {
		mask |= modifier
		mod = locale[at:]
	} else {
		at = len(locale)
	}
	if dot >= 0 {
		mask |= codeset
		cs = locale[dot:at]
	} else {
		dot = at
	}
	if uscore >= 0 {
		mask |= territory
		terr = locale[uscore:dot]
	} else {
		uscore = dot
	}
	lang := locale[:uscore]
	var out []string
	for j := 0; j <= mask; j++ {
		i := mask - j
		if i&^mask != 0 {
			continue
		}
		v := lang
		if i&territory != 0 {
			v += terr
		}
		if i&codeset != 0 {
			v += cs
		}
		if i&modifier != 0 {
			v += mod
		}
		out = append(out, v)
	}
	return out
}

// Languages returns the locales for localized lookups from the environment,
// like g_get_language_names: the first set of LANGUAGE (a ':'-separated
// list), LC_ALL, LC_MESSAGES and LANG, each expanded to its variants, then
// "C".
func Languages() []string {
	value := "C"
	for _, name := range []string{"LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"} {
		if v := os.Getenv(name); v != "" {
			value = v
			break
		}
	}
	var out []string
	for _, l := range strings.Split(value, ":") {
		if l == "" || l == "C" {
			continue
		}
		out = append(out, LocaleVariants(l)...)
	}
	return append(out, "C")
}

func localeCandidates(locale string) []string {
	if locale == "" {
		return Languages()
	}
	return LocaleVariants(locale)
}

// LocaleString returns the value of key translated for locale, trying
// key[variant] for each of LocaleVariants(locale) and then key itself. An
// empty locale means Languages(). Like GLib it is lenient: a value with an
// invalid escape is returned decoded as far as possible instead of failing
// (see String); only a missing key or a value that is not UTF-8 is an error.
func (f *File) LocaleString(group, key, locale string) (string, error) {
	for _, l := range localeCandidates(locale) {
		if s, err := f.lenientString(group, key+"["+l+"]"); err == nil {
			return s, nil
		}
	}
	return f.lenientString(group, key)
}

func (f *File) lenientString(group, key string) (string, error) {
	v, err := f.utf8Value(group, key)
	if err != nil {
		return "", err
	}
	s, _, _ := unescape(v, false)
	return s, nil
}

// LocaleStringList returns LocaleString split at ';' after dropping one
// final ';'. As in GLib, escapes are decoded before splitting, so an
// escaped separator (\;) does not protect an element here, unlike in
// StringList.
func (f *File) LocaleStringList(group, key, locale string) ([]string, error) {
	s, err := f.LocaleString(group, key, locale)
	if err != nil {
		return nil, err
	}
	s = strings.TrimSuffix(s, string(Separator))
	if s == "" {
		return []string{}, nil
	}
	return strings.Split(s, string(Separator)), nil
}

// SetLocaleString sets key[locale] to s, escaped.
func (f *File) SetLocaleString(group, key, locale, s string) error {
	return f.SetString(group, key+"["+locale+"]", s)
}

// SetLocaleStringList sets key[locale] to list.
func (f *File) SetLocaleStringList(group, key, locale string, list []string) error {
	return f.SetStringList(group, key+"["+locale+"]", list)
}
