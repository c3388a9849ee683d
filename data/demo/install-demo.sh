#!/usr/bin/env bash
# Publish the demo runtime (org.porthole.Platform//12 from Debian 12, see
# data/runtime/) and the demo app (data/demo-app/) to a signed repository,
# serve it on 127.0.0.1, add it as a remote with its key and install the app.
#
#   data/demo/install-demo.sh WORKDIR
#
# Environment:
#   PORTHOLE           the porthole binary (default: porthole on PATH)
#   GNUPGHOME, DEMO_KEY  the publisher key to sign with; without DEMO_KEY a
#                      throwaway key is made in WORKDIR/gnupg
#   PORTHOLE_USER_DIR  where to install (default: WORKDIR/user)
#
# The published runtimes are cached in ${PORTHOLE_CACHE:-~/.cache/porthole}/demo-repo
# (the first run takes a few minutes: debootstrap and export); each run
# copies that repository with hard links, signs it with the key, adds the
# app and updates the summary. The server keeps running: its pid is in
# WORKDIR/http.pid and its URL in WORKDIR/url.
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
work=${1:?usage: install-demo.sh WORKDIR}
mkdir -p "$work"
work=$(cd "$work" && pwd)
cache=${PORTHOLE_CACHE:-$HOME/.cache/porthole}
porthole=${PORTHOLE:-porthole}
export PORTHOLE_USER_DIR=${PORTHOLE_USER_DIR:-$work/user}
say() { printf '\033[1m-- %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

if [ -z "${DEMO_KEY:-}" ]; then
	export GNUPGHOME=$work/gnupg
	mkdir -p -m 0700 "$GNUPGHOME"
	gpg --batch --quiet --passphrase '' --quick-gen-key 'Porthole Demo <demo@porthole.invalid>' rsa3072 sign never 2>/dev/null
	DEMO_KEY=$(gpg --list-keys --with-colons 2>/dev/null | awk -F: '$1=="fpr"{print $10; exit}')
fi
gpg --export "$DEMO_KEY" >"$work/demo.gpg"
sign=(--gpg-sign="$DEMO_KEY" --gpg-homedir="${GNUPGHOME:-$HOME/.gnupg}")

say "The runtimes: org.porthole.Platform and org.porthole.Sdk, branch 12, from Debian 12"
# .complete holds the recipe's hash: a changed recipe rebuilds the cache.
recipe=$("$top/data/runtime/build.sh" --recipe-hash)
if [ "$(cat "$cache/demo-repo/.complete" 2>/dev/null)" != "$recipe" ]; then
	rm -rf "$cache/demo-repo"
	PORTHOLE=$porthole "$top/data/runtime/build.sh" "$cache/demo-repo"
	echo "$recipe" >"$cache/demo-repo/.complete"
fi
rm -rf "$work/repo"
cp -al "$cache/demo-repo" "$work/repo"
rm -f "$work/repo/.complete"
run "$porthole" build-sign "${sign[@]}" --runtime "$work/repo" org.porthole.Platform 12
run "$porthole" build-sign "${sign[@]}" --runtime "$work/repo" org.porthole.Sdk 12

say "The app: org.porthole.Demo, built against them"
app=$work/build-demo
rm -rf "$app"
run "$porthole" build-init "$app" org.porthole.Demo org.porthole.Sdk org.porthole.Platform 12
cp -a "$top/data/demo-app/files/." "$app/files/"
if [ -d "$top/data/demo-app/portal-client" ]; then
	(cd "$top" && run env CGO_ENABLED=0 go build -trimpath -o "$app/files/bin/portal-client" ./data/demo-app/portal-client)
fi
mapfile -t finish <"$top/data/demo-app/finish-args"
run "$porthole" build-finish "$app" "${finish[@]}"
run "$porthole" build-export --no-update-summary "${sign[@]}" "$work/repo" "$app" stable

say "Update the repository: summary, summary index, appstream, all signed"
run "$porthole" build-update-repo --title="Porthole Demo" --default-branch=stable \
	--gpg-import="$work/demo.gpg" "${sign[@]}" "$work/repo"

say "Serve it on 127.0.0.1"
python3 -m http.server --bind 127.0.0.1 0 --directory "$work/repo" >"$work/http.log" 2>&1 &
echo $! >"$work/http.pid"
port=""
for _ in $(seq 200); do
	port=$(sed -n 's/.*port \([0-9]*\).*/\1/p' "$work/http.log" | head -1)
	[ -n "$port" ] && break
	sleep 0.05
done
url="http://127.0.0.1:$port/"
echo "$url" >"$work/url"
echo "$url"

say "Add the remote with its key, and install the app (the runtime comes along)"
run "$porthole" remote-add --user --if-not-exists --gpg-import="$work/demo.gpg" demo "$url"
run "$porthole" remote-ls --user demo
run "$porthole" install --user -y demo org.porthole.Demo
run "$porthole" list --user
run "$porthole" info --user org.porthole.Demo
run "$porthole" search --user sandbox
