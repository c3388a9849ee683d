#!/usr/bin/env bash
# Install benchmarks, side by side with Debian's flatpak in one run, on the
# demo runtime (org.porthole.Platform//12, Debian 12 minbase) and the demo
# app, served with keep-alive HTTP on 127.0.0.1, GPG verification on:
#   install     runtime + app into a fresh user installation
#   update      the app after a small change (one file)
#   uninstall   app + runtime
# and the disk used by each installation after the install.
# Usage: bench/install.sh   (PORTHOLE_BIN=build/bin, RUNS=5)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
THEIRS_NAME=flatpak
PH=${PORTHOLE_BIN:-$(pwd)/build/bin}/porthole
WORK=$(mktemp -d /var/tmp/porthole-bench-install.XXXXXX)
# The HTTP servers start in command substitutions (not jobs of this
# shell): their pids go to $WORK/pids. The trap must not fail (set -e).
trap 'kill $(cat "$WORK/pids" 2>/dev/null) 2>/dev/null || true; rm -rf "$WORK"' EXIT
echo "flatpak: $(flatpak --version)  porthole: $($PH --version)  runs: $RUNS"

# Two repositories: v1 (runtime + app) and v2 (v1 + the app with one file
# changed), published with porthole from the cached demo runtime.
mkdir -p "$WORK/pub"
PORTHOLE=$PH PORTHOLE_USER_DIR=$WORK/pub/user data/demo/install-demo.sh "$WORK/pub" >"$WORK/pub.log" 2>&1 || { tail -30 "$WORK/pub.log"; exit 1; }
kill "$(cat "$WORK/pub/http.pid")" 2>/dev/null || true
export GNUPGHOME=$WORK/pub/gnupg
key=$(gpg --list-keys --with-colons 2>/dev/null | awk -F: '$1=="fpr"{print $10; exit}')
cp -al "$WORK/pub/repo" "$WORK/repo2"
app=$WORK/pub/build-demo
echo "# v2" >>"$app/files/bin/porthole-demo"
"$PH" build-export --no-update-summary --gpg-sign="$key" --gpg-homedir="$GNUPGHOME" "$WORK/repo2" "$app" stable >/dev/null
"$PH" build-update-repo --gpg-sign="$key" --gpg-homedir="$GNUPGHOME" "$WORK/repo2"
go build -o "$WORK/httpserve" ./bench/httpserve
serve() { "$WORK/httpserve" "$1" >"$WORK/$2.url" & echo $! >>"$WORK/pids"; for _ in $(seq 100); do [ -s "$WORK/$2.url" ] && break; sleep 0.05; done; head -1 "$WORK/$2.url"; }
url1=$(serve "$WORK/pub/repo" v1)
url2=$(serve "$WORK/repo2" v2)
echo "repo: $(du -sh "$WORK/pub/repo" | cut -f1) served at $url1 (v2 at $url2)"
echo

fresh() { mktemp -d "$WORK/i.XXXXXX"; }
pt() { PORTHOLE_USER_DIR=$1 "$PH" "${@:2}"; }
fp() { FLATPAK_USER_DIR=$1 flatpak --user "${@:2}"; }
add() { # TOOL DIR URL
	if [ "$1" = porthole ]; then pt "$2" remote-add --user --gpg-import="$WORK/pub/demo.gpg" demo "$3"
	else fp "$2" remote-add --gpg-import="$WORK/pub/demo.gpg" demo "$3"; fi
}
install_app() { # TOOL DIR
	if [ "$1" = porthole ]; then pt "$2" install --user -y --noninteractive demo org.porthole.Demo
	else fp "$2" install -y --noninteractive demo org.porthole.Demo; fi
}

: >"$WORK/disk.porthole"; : >"$WORK/disk.flatpak"
rms=()
for i in $(seq 0 "$RUNS"); do
	for tool in porthole flatpak; do
		d=$(fresh)
		add $tool "$d" "$url1" >/dev/null
		time_cmd "install.$tool" install_app $tool "$d"
		[ "$i" = 0 ] && : >"$WORK/install.$tool.times"
		du -sk "$d" | cut -f1 >>"$WORK/disk.$tool"
		# update after a small change (checked to have moved the app)
		active() { if [ "$1" = porthole ]; then pt "$2" list --user --app --columns=active; else fp "$2" list --app --columns=active; fi; }
		before=$(active $tool "$d")
		if [ $tool = porthole ]; then pt "$d" remote-modify --user --url="$url2" demo
		else fp "$d" remote-modify --url="$url2" demo; fi
		if [ $tool = porthole ]; then time_cmd "update.$tool" pt "$d" update --user -y --noninteractive
		else time_cmd "update.$tool" fp "$d" update -y --noninteractive; fi
		if [ "$(active $tool "$d")" = "$before" ]; then echo "bench: $tool update did not change the app" >&2; exit 1; fi
		[ "$i" = 0 ] && : >"$WORK/update.$tool.times"
		if [ $tool = porthole ]; then time_cmd "uninstall.$tool" pt "$d" uninstall --user -y --noninteractive org.porthole.Demo org.porthole.Platform
		else time_cmd "uninstall.$tool" fp "$d" uninstall -y --noninteractive org.porthole.Demo org.porthole.Platform; fi
		[ "$i" = 0 ] && : >"$WORK/uninstall.$tool.times"
		rm -rf "$d" &
		rms+=($!)
	done
done
wait "${rms[@]}"
report "install demo runtime + app (HTTP, GPG)" install.porthole install.flatpak
report "update app after a one-file change" update.porthole update.flatpak
report "uninstall app + runtime" uninstall.porthole uninstall.flatpak
printf 'disk used after install (du -sk): porthole %s KiB, flatpak %s KiB\n' \
	"$(sort -n "$WORK/disk.porthole" | sed -n 2p)" "$(sort -n "$WORK/disk.flatpak" | sed -n 2p)"
