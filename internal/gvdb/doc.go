// Package gvdb reads and writes GVDB files, the on-disk hash table format of
// GNOME's gvdb library. xdg-permission-store keeps its tables in this format
// ($XDG_DATA_HOME/flatpak/db/TABLE) and glib-compile-schemas writes
// gschemas.compiled in it. Files written here have gvdb's layout; they are
// byte-identical with gvdb's output for the same contents whenever gvdb's
// item order is determined (see HashTable).
//
// Glossary:
//   - File: a 24-byte header ("GVariant" signature, version 0, options,
//     pointer to the root hash table) followed by chunks that pointers
//     reference by absolute [start, end) byte offsets.
//   - Hash table: a header (bloom word count with the bloom shift in its top
//     5 bits, bucket count), bloom filter words, bucket start indexes, then
//     24-byte items. Items of one bucket are contiguous; bucket b holds the
//     items from buckets[b] up to buckets[b+1].
//   - Hash: the djb hash of the full key (h = h*33 + signed byte, h0 = 5381),
//     the same function as GLib's g_str_hash.
//   - Item: hash value, parent item index (0xffffffff for none), key pointer
//     and length, a type byte and a pointer. Type 'v' points at a value, 'H'
//     at a nested hash table, 'L' at a list of child item indexes.
//   - Parent link: an item's full key is its parent's full key followed by
//     its own stored key, so keys sharing a prefix store the prefix once.
//   - Value: a GVariant of type "v" in normal form (the value, a zero byte,
//     its type string), stored 8-byte aligned. Value and SetValue work with
//     package gvariant; RawValue and SetRaw with the type string and the
//     serialised bytes.
//   - Byteswapped file: written on a machine of the other endianness; its
//     signature words appear swapped. This package reads the structure of
//     such files but refuses their values (ErrByteswapped).
package gvdb
