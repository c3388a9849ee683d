// Package keyfile reads and writes GLib key files (GKeyFile): the .ini-like
// format of desktop entries, .flatpakref, .flatpakrepo, flatpak metadata,
// .flatpak-info, OSTree repo config, .portal files and D-Bus .service files.
//
// Parsing keeps comments, blank lines, group order and key order, and
// writing produces what g_key_file_to_data produces for the same content and
// the same sequence of edits, so a file that GLib writes back unchanged is
// written back byte for byte.
//
// Glossary:
//   - Group: a "[Name]" header and the lines up to the next header. Lines
//     before the first header belong to an unnamed top group, which may
//     hold only comments.
//   - Key: the part of "Key=Value" before '=', without surrounding
//     whitespace. A localized key has a locale suffix, "Name[de_DE]".
//   - Raw value: the text after '=' with leading whitespace removed, as
//     stored in the file (Value, SetValue).
//   - String: a raw value with its escapes decoded: \s \n \t \r \\ (String,
//     SetString). List elements are separated by ';' and may escape it as
//     \; (StringList, SetStringList).
//   - Locale variants: the locales tried for a localized key, from the most
//     to the least specific, in GLib's order (LocaleVariants).
//   - Duplicate key: a key given twice in a group. Both lines are kept and
//     written back; reads see the last one, as in GLib.
package keyfile
