#!/usr/bin/env bash
# The main job, end to end, with the built binaries on PATH (make demo sets it).
# Each stage shows what Porthole can do today; later stages join as they land.
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/porthole-demo.XXXXXX)
cleanup() {
	[ -n "${server:-}" ] && kill "$server" 2>/dev/null
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

step "Done"
