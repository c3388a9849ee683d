#!/bin/sh
# Portal frontend latency: porthole-portal against Debian's
# xdg-desktop-portal, each run on its own private dbus-daemon with the same
# test backend (bench/portal/main.go): 1,000 calls each of Settings.Read,
# Settings.ReadOne (where the frontend has it), NetworkMonitor.GetAvailable
# and GetStatus over one connection (from godbus, and again from a client
# that blocks in read(2) for each reply as libdbus and sd-bus clients do);
# Account.GetUserInformation request round trips through the backend;
# start-up from exec to the bus name.
# Interleaved runs, medians, ratios. PORTHOLE_BIN: directory of the built
# binaries; RUNS, CALLS, REQUESTS tune the counts; PORTALBENCH: a prebuilt
# bench/portal (to run without Go); THEIRS: the frontend to compare with.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
BIN=${PORTHOLE_BIN:-$top/build/bin}
RUNS=${RUNS:-5}
CALLS=${CALLS:-1000}
REQUESTS=${REQUESTS:-200}
THEIRS=${THEIRS:-/usr/libexec/xdg-desktop-portal}
RESULTS=${RESULTS:-$top/bench/results}
command -v dbus-daemon >/dev/null || { echo "portal.sh: needs dbus-daemon" >&2; exit 1; }
[ -x "$BIN/porthole-portal" ] || { echo "portal.sh: build first (make build), or set PORTHOLE_BIN" >&2; exit 1; }
WORK=$(mktemp -d /tmp/porthole-portalbench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
if [ -n "${PORTALBENCH:-}" ]; then cp "$PORTALBENCH" "$WORK/portalbench"; else (cd "$top" && go build -o "$WORK/portalbench" ./bench/portal); fi
fronts="porthole=$BIN/porthole-portal"
if [ -x "$THEIRS" ]; then
	fronts="$fronts,xdg-desktop-portal=$THEIRS"
	echo "comparing with $THEIRS $(dpkg-query -W -f='${Version}' xdg-desktop-portal 2>/dev/null || true)"
else
	echo "portal.sh: $THEIRS not found; measuring porthole-portal alone" >&2
fi
mkdir -p "$RESULTS"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) CPUs)"
"$WORK/portalbench" -frontends "$fronts" -runs "$RUNS" -calls "$CALLS" -requests "$REQUESTS" -tsv "$RESULTS/summary.tsv"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "(ratio porthole/xdg-desktop-portal: below 1 means porthole is faster; the goal is 0.5 or less)"
