// Package gvariant serialises and parses GVariant values in the normal form
// GLib writes, byte for byte, as OSTree and Flatpak store their metadata
// (dirtree, dirmeta, commit, summary, static-delta superblocks, deploy
// files).
//
// # Model
//
// A Value is an immutable view: its Type plus its serialised bytes in normal
// form. Constructors (Uint32, String, Array, Tuple, Variant, …) serialise at
// once; Unmarshal validates bytes and keeps them. So Marshal is a copy,
// Equal is a byte comparison, and children (Index, Unbox, Lookup) are
// sub-slices found through the framing offsets without decoding the rest of
// the tree.
//
// Unmarshal is strict: anything GLib's g_variant_is_normal_form would reject
// is an error wrapping ErrInvalid that names the byte offset and the rule
// (non-zero padding, non-minimal offset width, offsets out of order or out
// of range, strings without a final NUL, with an embedded NUL or invalid
// UTF-8, bad object paths and signatures, booleans other than 0/1, wrong
// fixed sizes, variants whose type string is missing, invalid or
// indefinite, maybe Just of a variable-size value without its 0x00,
// trailing bytes, nesting deeper than 128). It never panics on any input.
// One deliberate difference from GLib 2.74: a tuple that needs framing
// offsets but is serialised as zero bytes (e.g. "(asas)" holding two empty
// arrays) is rejected, although g_variant_is_normal_form accepts it,
// because GLib itself always writes the offsets and Marshal(Unmarshal(b))
// must give back b.
//
// Constructors panic on invalid input (String with a NUL or invalid UTF-8,
// see CheckString; bad object paths or signatures; mistyped array
// elements). A value nested deeper than 128 levels can be built but not
// parsed back, as in GLib.
//
// String prints like g_variant_print(value, FALSE) of GLib 2.74 (Debian
// 12): type annotations appear only inside variants. Accessors panic on a value of the wrong type, like
// reflect.
//
// # Hot paths
//
//   - UnmarshalAlias validates without copying: the Value aliases the
//     caller's buffer, and Index/StrBytes/ByteSlice return sub-slices, so
//     walking a dirtree of thousands of entries allocates nothing.
//   - Value.Data returns the serialised bytes of any child (e.g. to hash a
//     nested object or copy it into another container).
//   - Encoder builds a value by appending members to one buffer (alignment,
//     padding and framing offsets handled, member types checked) without
//     building Values for the children; Reset reuses its buffers.
//   - OffsetWidth is the framing-offset width rule on its own.
//
// # Glossary
//
//   - normal form: the unique canonical serialisation of a value; GLib
//     produces it and OSTree rejects anything else.
//   - fixed-size type: basic numeric types and tuples of fixed-size members;
//     padded up to their alignment (e.g. (ty) is 16 bytes).
//   - framing offset: little-endian end position of a variable-size child,
//     stored at the end of its container; width 1, 2, 4 or 8 bytes, the
//     smallest that fits the container's total size including the offsets.
//   - variant (v): a boxed value followed by 0x00 and its type string.
//   - maybe (m): Nothing is empty; Just is the child, plus 0x00 when the
//     child is variable-size.
//   - dict entry ({kv}): a two-member tuple with a basic key; a dictionary
//     (a{sv}) is just an array of them, order preserved.
package gvariant
