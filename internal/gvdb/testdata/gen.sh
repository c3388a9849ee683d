#!/bin/sh
# Regenerates the GVDB vectors in this directory with the real tools:
# Debian's xdg-permission-store (xdg-desktop-portal 1.16) on a private
# session bus, and glib-compile-schemas. Run from this directory; needs
# dbus-daemon, gdbus, glib-compile-schemas and /usr/libexec/xdg-permission-store.
# With STORE=/path/to/porthole-permission-store PREFIX=porthole-permission-store
# it records the same calls against our store instead (fuzz seeds).
set -eu
STORE=${STORE:-/usr/libexec/xdg-permission-store}
PREFIX=${PREFIX:-xdg-permission-store}
here=$(pwd)
tmp=$(mktemp -d)
trap 'kill $store $bus 2>/dev/null; rm -rf "$tmp"' EXIT
export XDG_DATA_HOME=$tmp/data
mkdir -p "$tmp/run"
cat >"$tmp/bus.conf" <<CONF
<busconfig><type>session</type><listen>unix:path=$tmp/run/bus</listen>
<policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy></busconfig>
CONF
dbus-daemon --config-file="$tmp/bus.conf" --nofork --print-address=3 3>"$tmp/addr" &
bus=$!
while [ ! -s "$tmp/addr" ]; do sleep 0.05; done
export DBUS_SESSION_BUS_ADDRESS=$(cat "$tmp/addr")
"$STORE" &
store=$!
call() { gdbus call --session --dest org.freedesktop.impl.portal.PermissionStore \
	--object-path /org/freedesktop/impl/portal/PermissionStore \
	--method org.freedesktop.impl.portal.PermissionStore."$@" >/dev/null; }
until gdbus introspect --session --dest org.freedesktop.impl.portal.PermissionStore \
	--object-path /org/freedesktop/impl/portal/PermissionStore >/dev/null 2>&1; do sleep 0.05; done
# one entry, one app: every table has at most one item per bucket
call SetPermission one true inhibit org.example.App "['logout','suspend']"
# several entries and apps, data of several types
call Set many true doc1 "{'org.example.A': ['read','write'], 'org.example.B': ['read']}" "<(b'/home/u/a.txt', uint64 2049, uint64 131, uint32 0)>"
call Set many true doc2 "{'org.example.B': ['read','write','grant-permissions','delete']}" "<(b'/home/u/dir', uint64 2049, uint64 7, uint32 4)>"
call SetValue many true value-only "<{'a': <int32 -5>, 'b': <'text'>}>"
call SetPermission many true empty-perms org.example.C "@as []"
call SetPermission many true notifications org.example.A "['yes']"
call SetPermission many true notifications org.example.D "['no']"
call Delete many value-only
# an empty table: every entry deleted
call SetPermission empty true gone org.example.A "['yes']"
call Delete empty gone
for t in one many empty; do cp "$XDG_DATA_HOME/flatpak/db/$t" "$here/$PREFIX-$t.gvdb"; done
if [ "$PREFIX" = xdg-permission-store ]; then
	cp /usr/share/glib-2.0/schemas/gschemas.compiled "$here/gschemas.compiled" 2>/dev/null || true
	dpkg-query -W -f='${Package} ${Version}\n' xdg-desktop-portal libglib2.0-bin > "$here/VERSIONS"
fi
