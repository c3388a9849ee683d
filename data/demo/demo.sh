#!/usr/bin/env bash
# The main job, end to end, with the built binaries on PATH (make demo sets it).
# Each stage shows what Porthole can do today; later stages join as they land.
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/porthole-demo.XXXXXX)
cleanup() {
	set +e
	[ -n "${server:-}" ] && kill "$server" 2>/dev/null
	[ -f "$work/install/http.pid" ] && kill "$(cat "$work/install/http.pid")" 2>/dev/null
	# The portal services, then their bus; the document portal unmounts
	# its FUSE file system when it stops.
	[ -n "${svc_pids:-}" ] && kill $svc_pids 2>/dev/null
	if [ -n "${bus_pid:-}" ]; then
		kill "$bus_pid" 2>/dev/null
		wait "$bus_pid" 2>/dev/null
	fi
	for _ in $(seq 50); do
		alive=""
		for p in ${svc_pids:-}; do kill -0 "$p" 2>/dev/null && alive=yes; done
		[ -z "$alive" ] && ! grep -q " $work/" /proc/self/mounts && break
		sleep 0.1
	done
	grep " $work/" /proc/self/mounts | awk '{print $2}' | while read -r m; do
		fusermount3 -u -z "$m" 2>/dev/null || umount -l "$m"
	done
	rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

step "$(porthole --version)"

step "A publisher's signing key (GnuPG, no passphrase, throwaway)"
export GNUPGHOME=$work/gnupg
mkdir -m 0700 "$GNUPGHOME"
gpg --batch --quiet --passphrase '' --quick-gen-key 'Porthole Demo <demo@porthole.invalid>' rsa3072 sign never 2>/dev/null
key=$(gpg --list-keys --with-colons 2>/dev/null | awk -F: '$1=="fpr"{print $10; exit}')
gpg --export "$key" >"$work/demo.gpg"
echo "key $key"

step "A tree to publish"
mkdir -p "$work/tree/bin" "$work/tree/share/demo"
printf '#!/bin/sh\necho "Hello from a Porthole store"\n' >"$work/tree/bin/hello"
chmod 0755 "$work/tree/bin/hello"
printf 'shared data\n' >"$work/tree/share/demo/readme.txt"
ln -s ../share/demo/readme.txt "$work/tree/bin/readme"
find "$work/tree" | sed "s|$work/||"

step "Commit it, signed, into an archive repository, and write a signed summary"
run porthole store init --repo="$work/repo" --mode=archive
run porthole store commit --repo="$work/repo" -b demo/hello -s "Demo tree" \
	--gpg-sign="$key" --gpg-homedir="$GNUPGHOME" --tree=dir="$work/tree"
run porthole store summary --repo="$work/repo" -u --gpg-sign="$key" --gpg-homedir="$GNUPGHOME"
run porthole store summary --repo="$work/repo" --view

step "The real ostree agrees that the repository is sound"
if command -v ostree >/dev/null; then
	run ostree fsck --repo="$work/repo"
fi

step "Serve it on 127.0.0.1 and pull it, verifying commit and summary signatures"
python3 -m http.server --bind 127.0.0.1 0 --directory "$work/repo" >"$work/http.log" 2>&1 &
server=$!
port=""
for _ in $(seq 100); do
	port=$(sed -n 's/.*port \([0-9]*\).*/\1/p' "$work/http.log" | head -1)
	[ -n "$port" ] && break
	sleep 0.05
done
run porthole store init --repo="$work/client" --mode=bare-user-only
run porthole store remote add --repo="$work/client" --gpg-import="$work/demo.gpg" origin "http://127.0.0.1:$port/"
run porthole store pull --repo="$work/client" origin demo/hello
run porthole store checkout --repo="$work/client" -U --require-hardlinks origin:demo/hello "$work/checkout"
run "$work/checkout/bin/hello"
run porthole store show --repo="$work/client" origin:demo/hello
run porthole store fsck --repo="$work/client"

step "A repository with a wrong key is refused, and no ref moves"
gpg --batch --quiet --passphrase '' --quick-gen-key 'Mallory <m@porthole.invalid>' rsa3072 sign never 2>/dev/null
gpg --export 'Mallory' 2>/dev/null >"$work/mallory.gpg"
porthole store init --repo="$work/victim" --mode=bare-user-only
porthole store remote add --repo="$work/victim" --gpg-import="$work/mallory.gpg" origin "http://127.0.0.1:$port/"
if porthole store pull --repo="$work/victim" origin demo/hello; then
	echo "demo: a pull with the wrong key succeeded" >&2
	exit 1
fi
echo "refused, as it should be; refs: $(porthole store refs --repo="$work/victim" | wc -l)"

step "Publish the demo runtime and app to a signed repository, serve it, install the app"
t0=$(date +%s)
PORTHOLE_USER_DIR=$work/install/user DEMO_KEY=$key "$top/data/demo/install-demo.sh" "$work/install"
echo "(install took $(($(date +%s) - t0)) s; the runtime repository is cached in ${PORTHOLE_CACHE:-$HOME/.cache/porthole}/demo-repo)"
export PORTHOLE_USER_DIR=$work/install/user

step "A private session bus for the portals (never the ambient one)"
export XDG_RUNTIME_DIR=$work/xdg-runtime
mkdir -m 0700 "$XDG_RUNTIME_DIR" "$work/services" "$work/data"
for f in "$top"/data/dbus-1/services/*.service; do
	sed "s|@libexecdir@|$top/build/bin|" "$f" >"$work/services/$(basename "$f")"
done
# The demo portal client, static; on the host it also serves a small
# Settings backend (the only backend porthole-portal sees: XDG_DESKTOP_PORTAL_DIR).
client=$work/portal-client
(cd "$top" && CGO_ENABLED=0 go build -trimpath -o "$client" ./data/demo-app/portal-client)
printf '[D-BUS Service]\nName=org.freedesktop.impl.portal.desktop.demo\nExec=%s host-settings\n' "$client" \
	>"$work/services/org.freedesktop.impl.portal.desktop.demo.service"
mkdir "$work/portals"
printf '[portal]\nDBusName=org.freedesktop.impl.portal.desktop.demo\nInterfaces=org.freedesktop.impl.portal.Settings;\n' \
	>"$work/portals/demo.portal"
printf '[preferred]\ndefault=demo\n' >"$work/portals/portals.conf"
cat >"$work/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=$work/bus</listen>
  <auth>EXTERNAL</auth>
  <servicedir>$work/services</servicedir>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
CONF
env XDG_DATA_HOME="$work/data" XDG_DESKTOP_PORTAL_DIR="$work/portals" dbus-daemon --config-file="$work/bus.conf" --nofork --nopidfile \
	--print-address=3 3>"$work/bus.address" 2>"$work/services.log" &
bus_pid=$!
for _ in $(seq 100); do
	[ -s "$work/bus.address" ] && break
	sleep 0.05
done
export DBUS_SESSION_BUS_ADDRESS=unix:path=$work/bus
unset DBUS_SYSTEM_BUS_ADDRESS
echo "DBUS_SESSION_BUS_ADDRESS=$DBUS_SESSION_BUS_ADDRESS (dbus-daemon pid $bus_pid)"
echo "XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR"
echo "activatable services:"
grep -h '^Exec=' "$work/services"/*.service | sed 's/^Exec=/  /'
echo "portal backends (XDG_DESKTOP_PORTAL_DIR): $(ls "$work/portals" | tr '\n' ' ')"

step "The host exports a file to the app through the Documents portal (Add + GrantPermissions)"
mkdir -m 0755 "$work/files"
echo "Hello, sandbox: this file was handed to you through the document portal." >"$work/files/letter.txt"
echo "top secret, for the host only" >"$work/files/secret.txt"
echo "for another app" >"$work/files/other.txt"
portal_ok=yes
doc=$("$client" host-export "$work/files/letter.txt" org.porthole.Demo read) || { portal_ok=no; doc=none; }
other=$("$client" host-export "$work/files/other.txt" org.example.Other read) || { portal_ok=no; other=none; }
echo "letter.txt -> document $doc (granted to org.porthole.Demo)"
echo "other.txt  -> document $other (granted to org.example.Other)"
echo "secret.txt -> not exported"
"$client" host-info "$doc" || portal_ok=no
"$client" host-info "$other" || portal_ok=no
if mountpoint -q "$XDG_RUNTIME_DIR/doc"; then
	echo "FUSE: $XDG_RUNTIME_DIR/doc is mounted; ls: $(ls "$XDG_RUNTIME_DIR/doc" | tr '\n' ' ')"
else
	echo "FUSE: $XDG_RUNTIME_DIR/doc is NOT mounted" >&2
fi

step "Run the app in the sandbox; it calls portals through the filtering D-Bus proxy"
run porthole run --user org.porthole.Demo app "/run/flatpak/doc/$doc/letter.txt" \
	"/run/flatpak/doc/$other" "$work/files/secret.txt" || portal_ok=no

step "Who the portal saw: the app id it read from /proc/PID/root/.flatpak-info"
echo "GetHostPaths above answered the sandboxed app only for $doc (granted to org.porthole.Demo),"
echo "not for $other (granted to org.example.Other): the Documents portal identified the caller"
echo "as org.porthole.Demo from its sandbox's /.flatpak-info."
echo
echo "The same NetworkMonitor calls with the network unshared: the portal reads the app's"
echo "[Context] from the sandbox's .flatpak-info, so it must refuse them now."
if porthole run --user --unshare=network org.porthole.Demo net; then
	echo "demo: NetworkMonitor answered an app without network access" >&2
	portal_ok=no
fi
names=""
for n in org.freedesktop.portal.Desktop org.freedesktop.portal.Documents org.freedesktop.impl.portal.PermissionStore \
	org.freedesktop.impl.portal.desktop.demo; do
	pid=$(dbus-send --session --print-reply=literal --dest=org.freedesktop.DBus / \
		org.freedesktop.DBus.GetConnectionUnixProcessID "string:$n" 2>/dev/null | awk '{print $2}') || pid=""
	[ -n "$pid" ] && svc_pids="${svc_pids:-} $pid" && names="$names  $n: pid $pid, $(readlink "/proc/$pid/exe")"$'\n'
done
echo "D-Bus activated on the private bus:"
printf '%s' "$names"

step "Done"
if [ "$portal_ok" != yes ]; then
	echo "demo: some portal steps FAILED (see above); services log:" >&2
	cat "$work/services.log" >&2
	exit 1
fi
