#!/usr/bin/env bash
# Store benchmarks, side by side with Debian's ostree in one run:
# commit (each mode), checkout with hard links, fsck, pull over HTTP on
# 127.0.0.1, on a Debian minbase tree and a larger tree sharing most files.
# Usage: bench/store.sh   (PORTHOLE_BIN=build/bin, RUNS=5)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
THEIRS_NAME=ostree
PH=${PORTHOLE_BIN:-$(pwd)/build/bin}/porthole
WORK=$(mktemp -d /var/tmp/porthole-bench-store.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$WORK"' EXIT
ensure_trees
MIN=$CACHE/trees/minbase
BIG=$CACHE/trees/larger
echo "ostree: $(ostree --version | sed -n 2p)  porthole: $($PH --version)  runs: $RUNS"
echo "trees: minbase $(du -sh "$MIN" | cut -f1) $(find "$MIN" -type f | wc -l) files; larger $(du -sh "$BIG" | cut -f1) $(find "$BIG" -type f | wc -l) files"
echo


fresh() { mktemp -u "$WORK/r.XXXXXX"; }

# commit STAGE MODE TREE [EXTRA…]: each run commits TREE into a fresh repo.
bench_commit() {
	local stage=$1 mode=$2 tree=$3; shift 3
	local i r done=()
	for i in $(seq 0 "$RUNS"); do
		for tool in porthole ostree; do
			r=$(fresh)
			if [ $tool = porthole ]; then
				"$PH" store init --repo="$r" --mode="$mode"
				time_cmd "$stage.$tool" "$PH" store commit --repo="$r" -b bench --no-xattrs --owner-uid=0 --owner-gid=0 --timestamp=2020-01-01T00:00:00Z "$@" --tree=dir="$tree"
			else
				ostree --repo="$r" init --mode="$mode"
				time_cmd "$stage.$tool" ostree --repo="$r" commit -b bench --no-xattrs --owner-uid=0 --owner-gid=0 --timestamp=2020-01-01T00:00:00Z "$@" --tree=dir="$tree"
			fi
			[ "$i" = 0 ] && : >"$WORK/$stage.$tool.times" # warm-up run not counted
			done+=("$r")
		done
	done
	report "$stage" "$stage.porthole" "$stage.ostree"
	# Delete only when the stage ends: writing while (or right after) a
	# large tree is removed is 2-4x slower and would skew whichever tool
	# runs next (BENCHMARKING.md).
	rm -rf "${done[@]}"; sync
}

bench_commit "commit minbase archive" archive "$MIN"
bench_commit "commit minbase bare-user" bare-user "$MIN"
bench_commit "commit minbase bare-user-only" bare-user-only "$MIN" --canonical-permissions
bench_commit "commit larger archive" archive "$BIG"
bench_commit "commit larger bare-user" bare-user "$BIG"

# Repos for checkout, fsck and pull, written by ostree (so both tools read the same input).
for mode in archive bare-user bare-user-only; do
	ostree --repo="$WORK/src-$mode" init --mode=$mode
	# Canonical permissions, as Flatpak's builders commit runtimes: a
	# bare-user-only repo (what installations pull into) refuses setuid modes.
	ostree --repo="$WORK/src-$mode" commit -b min --no-xattrs --owner-uid=0 --owner-gid=0 --canonical-permissions --tree=dir="$MIN" >/dev/null
	ostree --repo="$WORK/src-$mode" commit -b big --no-xattrs --owner-uid=0 --owner-gid=0 --canonical-permissions --tree=dir="$BIG" >/dev/null
done

bench_checkout() {
	local stage=$1 mode=$2 i d
	for i in $(seq 0 "$RUNS"); do
		d=$(fresh); time_cmd "$stage.porthole" "$PH" store checkout --repo="$WORK/src-$mode" -U --require-hardlinks big "$d"
		d=$(fresh); time_cmd "$stage.ostree" ostree --repo="$WORK/src-$mode" checkout -U --require-hardlinks big "$d"
		[ "$i" = 0 ] && : >"$WORK/$stage.porthole.times" && : >"$WORK/$stage.ostree.times"
	done
	report "$stage" "$stage.porthole" "$stage.ostree"
}
bench_checkout "checkout -U hardlinks larger bare-user-only" bare-user-only
bench_checkout "checkout -U hardlinks larger bare-user" bare-user

bench_fsck() {
	local stage=$1 mode=$2 i
	for i in $(seq 0 "$RUNS"); do
		time_cmd "$stage.porthole" "$PH" store fsck --repo="$WORK/src-$mode"
		time_cmd "$stage.ostree" ostree fsck --repo="$WORK/src-$mode"
		[ "$i" = 0 ] && : >"$WORK/$stage.porthole.times" && : >"$WORK/$stage.ostree.times"
	done
	report "$stage" "$stage.porthole" "$stage.ostree"
}
bench_fsck "fsck archive (minbase+larger)" archive
bench_fsck "fsck bare-user (minbase+larger)" bare-user
bench_fsck "fsck bare-user-only (minbase+larger)" bare-user-only

# Pull: a keep-alive HTTP/1.1 server on 127.0.0.1 serving the archive repo.
ostree --repo="$WORK/src-archive" summary -u
go build -o "$WORK/httpserve" ./bench/httpserve
"$WORK/httpserve" "$WORK/src-archive" >"$WORK/url" &
for _ in $(seq 50); do [ -s "$WORK/url" ] && break; sleep 0.1; done
URL=$(cat "$WORK/url")
bench_pull() {
	local stage=$1 mode=$2 ref=$3 i r
	for i in $(seq 0 "$RUNS"); do
		r=$(fresh); "$PH" store init --repo="$r" --mode="$mode"
		"$PH" store remote add --repo="$r" --no-gpg-verify origin "$URL"
		time_cmd "$stage.porthole" "$PH" store pull --repo="$r" origin "$ref"
		r=$(fresh); ostree --repo="$r" init --mode="$mode"
		ostree --repo="$r" remote add --no-gpg-verify origin "$URL"
		time_cmd "$stage.ostree" ostree --repo="$r" pull origin "$ref"
		[ "$i" = 0 ] && : >"$WORK/$stage.porthole.times" && : >"$WORK/$stage.ostree.times"
	done
	report "$stage" "$stage.porthole" "$stage.ostree"
}
bench_pull "pull minbase objects into bare-user-only" bare-user-only min
bench_pull "pull minbase objects into archive" archive min
