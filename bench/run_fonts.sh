#!/usr/bin/env bash
# Fonts: the first fc-list in a fresh sandbox, with the host's font cache
# remapped (font-dirs.xml included by the runtime's fontconfig config, as
# freedesktop runtimes do) versus without the remap (fontconfig rescans the
# host fonts at /run/host/fonts). Each run gets an empty per-app cache.
# Runtime: the Debian "larger" tree (fontconfig + fonts). Unprivileged.
# Usage: bench/run_fonts.sh   (PORTHOLE_BIN=build/bin, RUNS=20)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-20}
. bench/lib.sh
BIN=${PORTHOLE_BIN:-$(pwd)/build/bin}
USER_ID=${BENCH_UID:-4242}
[ -f "$CACHE/trees/larger/.complete" ] || (set +o pipefail; ensure_trees)
BIG=$CACHE/trees/larger
FIX=${BENCH_FONTS_FIXTURE:-/var/tmp/porthole-bench-fonts}
if [ ! -f "$FIX/.complete" ]; then
	rm -rf "$FIX"
	mkdir -p "$FIX/app/bin"
	for v in remap noremap; do
		cp -al "$BIG/usr" "$FIX/$v" 2>/dev/null || cp -a "$BIG/usr" "$FIX/$v"
		rm -rf "$FIX/$v/etc"
		cp -a "$BIG/etc" "$FIX/$v/etc"
		inc='<include ignore_missing="yes">/run/host/font-dirs.xml</include>'
		[ $v = noremap ] && inc=''
		cat >"$FIX/$v/etc/fonts/conf.d/50-flatpak.conf" <<XML
<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">
<fontconfig>
  <dir>/run/host/fonts</dir>
  <dir>/run/host/local-fonts</dir>
  <dir>/run/host/user-fonts</dir>
  <cachedir prefix="xdg">fontconfig</cachedir>
  <cachedir>/run/host/fonts-cache</cachedir>
  <cachedir>/run/host/user-fonts-cache</cachedir>
  $inc
</fontconfig>
XML
	done
	chmod -R a+rX "$FIX"
	touch "$FIX/.complete"
fi
fc-cache -s >/dev/null 2>&1 || true # the host's system cache is current

WORK=$(mktemp -d /tmp/porthole-bench-fonts.XXXXXX)
chmod 755 "$WORK"
mkdir -p "$WORK/home" "$WORK/xrd"
chown -R "$USER_ID:$USER_ID" "$WORK/home" "$WORK/xrd"
chmod 700 "$WORK/xrd"
cp "$BIN/porthole" "$BIN/porthole-init" "$WORK/"
trap 'rm -rf "$WORK"' EXIT
run_as() {
	setpriv --reuid="$USER_ID" --regid="$USER_ID" --clear-groups \
		env -i HOME="$WORK/home" XDG_RUNTIME_DIR="$WORK/xrd" PATH=/usr/bin:/bin \
		PORTHOLE_USER_DIR="$WORK/none" PORTHOLE_SYSTEM_DIR="$WORK/none" "$@"
}
run() { echo "$WORK/porthole run --app-path=$FIX/app --usr-path=$FIX/$1 --command=fc-list org.porthole.Fonts"; }
echo "host fonts: $(fc-list | wc -l)  runs: $RUNS  uid: $USER_ID"
run_as hyperfine -N --warmup 2 --runs "$RUNS" --export-json "$WORK/home/fonts.json" \
	--prepare "rm -rf $WORK/home/.var" \
	-n remap "$(run remap)" -n noremap "$(run noremap)" >"$WORK/hyperfine.log" 2>&1 || { cat "$WORK/hyperfine.log"; exit 1; }
python3 - "$WORK/home/fonts.json" "$RESULTS/summary.tsv" <<'PY'
import json, sys
r = {x["command"]: x["median"] * 1000 for x in json.load(open(sys.argv[1]))["results"]}
print(f"first fc-list, host cache remapped   median {r['remap']:7.2f} ms")
print(f"first fc-list, no remap (rescan)     median {r['noremap']:7.2f} ms")
print(f"speed-up from the remap: {r['noremap']/r['remap']:.2f}x")
with open(sys.argv[2], "a") as f:
    f.write(f"first fc-list remap vs rescan (ms)\t{r['remap']:.2f}\t{r['noremap']:.2f}\t{r['noremap']/r['remap']:.2f}\n")
PY
