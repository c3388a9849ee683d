#!/bin/sh
# Regenerates glib-order.txt: the iteration order of a real GLib GHashTable
# (g_str_hash keys, inserted in order, no removals) for the key lists that
# TestGLibOrder builds. Needs gcc and libglib2.0-dev. Run from this directory.
set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/oracle.c" <<'C'
#include <glib.h>
#include <stdio.h>
#include <string.h>
static void pr (gpointer k, gpointer v, gpointer u) { printf ("%s\n", (char *) k); }
int main (void) {
  GHashTable *t = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  char line[4096];
  while (fgets (line, sizeof line, stdin)) {
    line[strcspn (line, "\n")] = 0;
    g_hash_table_insert (t, g_strdup (line), GINT_TO_POINTER (1));
  }
  g_hash_table_foreach (t, pr, NULL);
  return 0;
}
C
gcc -o "$tmp/oracle" "$tmp/oracle.c" $(pkg-config --cflags --libs glib-2.0)
{
	echo "# glib $(pkg-config --modversion glib-2.0)"
	for n in 0 1 2 3 7 8 13 16 31 50 100 257 1000; do
		echo "case $n"
		# keys id-0 … id-(n-1), then id-0 … id-(n/2-1) again (replacements)
		{ i=0; while [ $i -lt $n ]; do echo "id-$i"; i=$((i+1)); done
		  i=0; while [ $i -lt $((n/2)) ]; do echo "id-$i"; i=$((i+1)); done; } | "$tmp/oracle"
	done
} > glib-order.txt
