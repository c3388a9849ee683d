# Shared helpers for the side-by-side benchmark scripts in bench/.
# Method (../shared/docs/BENCHMARKING.md): interleave the tools (A B A B …),
# one warm-up run each, RUNS counted runs, every run into a fresh directory,
# report median/min/max and the ratio of medians.

RUNS=${RUNS:-5}
CACHE=${PORTHOLE_CACHE:-$HOME/.cache/porthole}
RESULTS=${RESULTS:-$(pwd)/bench/results}
mkdir -p "$RESULTS"

# now_ns prints a monotonic-enough wall clock in nanoseconds.
now_ns() { date +%s%N; }

# time_cmd NAME CMD… runs CMD once and appends its wall time in seconds to
# $WORK/NAME.times. Output goes to $WORK/NAME.log.
time_cmd() {
	local name=$1; shift
	local t0 t1
	t0=$(now_ns)
	"$@" >>"$WORK/$name.log" 2>&1 || { echo "bench: $name failed: $*" >&2; tail -20 "$WORK/$name.log" >&2; return 1; }
	t1=$(now_ns)
	awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.6f\n", (b-a)/1e9}' >>"$WORK/$name.times"
}

# stats NAME prints "median min max" of $WORK/NAME.times.
stats() {
	sort -g "$WORK/$1.times" | awk '{v[NR]=$1} END{m=(NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2; printf "%.4f %.4f %.4f\n", m, v[1], v[NR]}'
}

# report STAGE OURS THEIRS prints both lines and the ratio theirs/ours
# (above 1 means Porthole is faster) and appends it to $RESULTS/summary.tsv.
report() {
	local stage=$1 ours=$2 theirs=$3
	read -r om omin omax < <(stats "$ours")
	read -r tm tmin tmax < <(stats "$theirs")
	local ratio
	ratio=$(awk -v o="$om" -v t="$tm" 'BEGIN{printf "%.2f", t/o}')
	printf '%-44s %-10s median %8ss  (min %s, max %s)\n' "$stage" "porthole" "$om" "$omin" "$omax"
	printf '%-44s %-10s median %8ss  (min %s, max %s)\n' "$stage" "$THEIRS_NAME" "$tm" "$tmin" "$tmax"
	printf '%-44s speed-up %sx (%s median / porthole median)\n\n' "$stage" "$ratio" "$THEIRS_NAME"
	printf '%s\t%s\t%s\t%s\n' "$stage" "$om" "$tm" "$ratio" >>"$RESULTS/summary.tsv"
}

# strip_devices removes the device nodes debootstrap makes in /dev: neither
# ostree nor Porthole commits them (a runtime has no /dev of its own).
strip_devices() {
	find "$1/dev" -mindepth 1 \( -type c -o -type b -o -type p -o -type s \) -delete
}

# ensure_trees makes the Debian minbase tree and the larger tree that shares
# most of its files (cached under $CACHE/trees).
ensure_trees() {
	local mirror
	mirror=$(grep -hoE 'https?://[^ ]+/debian/?' /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null | grep -v security | head -1 || true)
	mirror=${mirror:-http://deb.debian.org/debian}
	mkdir -p "$CACHE/trees"
	if [ ! -f "$CACHE/trees/minbase/.complete" ]; then
		rm -rf "$CACHE/trees/minbase"
		debootstrap --variant=minbase bookworm "$CACHE/trees/minbase" "$mirror" >"$CACHE/trees/minbase.log" 2>&1
		strip_devices "$CACHE/trees/minbase"
		touch "$CACHE/trees/minbase/.complete"
	fi
	if [ ! -f "$CACHE/trees/larger/.complete" ]; then
		rm -rf "$CACHE/trees/larger"
		debootstrap --variant=minbase --include=libgtk-3-0,fontconfig,fonts-dejavu-core,dbus-x11 \
			bookworm "$CACHE/trees/larger" "$mirror" >"$CACHE/trees/larger.log" 2>&1
		strip_devices "$CACHE/trees/larger"
		touch "$CACHE/trees/larger/.complete"
	fi
}
