#!/bin/sh
# Document portal throughput: a file read and written directly, through a
# document of porthole-document-portal, and through bindfs (a plain
# passthrough FUSE mount), interleaved, medians and ratios
# (bench/documentportal/main.go). Needs dbus-run-session, bindfs, FUSE.
# PORTHOLE_BIN: directory of the built binaries (make bench sets it);
# DOCBENCH: a prebuilt bench/documentportal (to run as a user without Go).
# Run as root, reads and writes use FUSE passthrough; as another user,
# the portal serves them (requests up to 1 MiB). ONLY=NAME runs only the
# measures whose names contain NAME.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
BIN=${PORTHOLE_BIN:-$top/build/bin}
RUNS=${RUNS:-5}
SIZE_MIB=${SIZE_MIB:-256}
ONLY=${ONLY:-}   # only the measures whose names contain this
for c in dbus-run-session bindfs fusermount3; do
	command -v $c >/dev/null || { echo "documentportal.sh: needs $c" >&2; exit 1; }
done
[ -x "$BIN/porthole-document-portal" ] && [ -x "$BIN/porthole-permission-store" ] || {
	echo "documentportal.sh: build first (make build), or set PORTHOLE_BIN" >&2; exit 1; }
WORK=$(mktemp -d /tmp/porthole-docbench.XXXXXX)
trap 'fusermount3 -u -z "$WORK/bindfs" 2>/dev/null || true; rm -rf "$WORK"' EXIT
mkdir -p "$WORK/rt" "$WORK/data" "$WORK/files" "$WORK/bindfs"
chmod 700 "$WORK/rt"
if [ -n "${DOCBENCH:-}" ]; then cp "$DOCBENCH" "$WORK/docbench"; else (cd "$top" && go build -o "$WORK/docbench" ./bench/documentportal); fi
export WORK RUNS SIZE_MIB ONLY
# bench_portal LABEL PORTAL STORE: one private session with that portal.
bench_portal() {
	echo "== $1"
	rm -rf "$WORK/rt" "$WORK/data"; mkdir -p "$WORK/rt" "$WORK/data"; chmod 700 "$WORK/rt"
	PORTAL=$2 STORE=$3 dbus-run-session -- sh -c '
		export XDG_RUNTIME_DIR=$WORK/rt XDG_DATA_HOME=$WORK/data
		"$STORE" & store=$!
		i=0; until busctl --user status org.freedesktop.impl.portal.PermissionStore >/dev/null 2>&1 || [ $i -gt 100 ]; do sleep 0.05; i=$((i+1)); done
		"$PORTAL" & portal=$!
		i=0; until [ -d "$XDG_RUNTIME_DIR/doc/by-app" ] || [ $i -gt 200 ]; do sleep 0.05; i=$((i+1)); done
		bindfs --no-allow-other "$WORK/files" "$WORK/bindfs"
		"$WORK/docbench" -file "$WORK/files/data.bin" -bindfs "$WORK/bindfs" -runs "$RUNS" -size "$SIZE_MIB" -only "$ONLY"; st=$?
		fusermount3 -u "$WORK/bindfs"
		kill -HUP $portal; wait $portal || st=1
		kill $store 2>/dev/null; wait $store 2>/dev/null || true
		exit $st
	' 2>&1 | grep -v "Failed to set fd limit"
}
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) CPUs)"
bench_portal "porthole-document-portal (uid $(id -u))" "$BIN/porthole-document-portal" "$BIN/porthole-permission-store"
if [ -x /usr/libexec/xdg-document-portal ] && [ -x /usr/libexec/xdg-permission-store ]; then
	echo
	# Upstream's portal exits with a signal status on SIGHUP; that is fine here.
	bench_portal "xdg-document-portal $(dpkg-query -W -f='${Version}' xdg-desktop-portal 2>/dev/null) (Debian, for comparison)" \
		/usr/libexec/xdg-document-portal /usr/libexec/xdg-permission-store || true
fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
