#!/usr/bin/env bash
# Recipe for the demo and test runtimes: org.porthole.Platform and
# org.porthole.Sdk, branch 12, built from Debian 12 packages with debootstrap.
#
#   data/runtime/build.sh REPO [--gpg-sign=KEY --gpg-homedir=DIR]
#   data/runtime/build.sh --recipe-hash
#
# --recipe-hash prints a hash of this recipe (script and package lists), to
# key caches of what it builds: a changed recipe must rebuild them.
#
# Debian trees are cached under ${PORTHOLE_CACHE:-~/.cache/porthole}/trees
# (minbase for the Platform, sdk-HASH = minbase + sdk.packages, with the
# compilers, for the Sdk);
# each runtime is exported into the archive repository REPO with
# `porthole build-export --runtime` (canonical permissions: the trees hold
# setuid files). /etc goes to /usr/etc, as Flatpak runtimes have it.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
if [ "${1:-}" = --recipe-hash ]; then
	cat "$here/build.sh" "$here/platform.packages" "$here/sdk.packages" | sha256sum | cut -c1-12
	exit 0
fi
repo=${1:?usage: build.sh REPO [build-export options]}
shift
extra=("$@")
cache=${PORTHOLE_CACHE:-$HOME/.cache/porthole}
porthole=${PORTHOLE:-porthole}
arch=x86_64
branch=12

packages() { grep -v '^#' "$here/$1.packages" | grep -v '^$' | paste -sd, - || true; }

mirror() {
	local m
	m=$(grep -hvE '^[[:space:]]*#' /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null | grep -oE 'https?://[^ ]+/debian/?( |$)' | grep -v security | head -1 | tr -d ' ' || true)
	echo "${m:-http://deb.debian.org/debian}"
}

# tree NAME PACKAGES: a cached debootstrap --variant=minbase tree.
tree() {
	local name=$1 include=$2 dir=$cache/trees/$1
	if [ ! -f "$dir/.complete" ]; then
		echo "debootstrap $name (bookworm${include:+ + $include})…" >&2
		rm -rf "$dir"
		mkdir -p "$cache/trees"
		if ! debootstrap --variant=minbase ${include:+--include=$include} bookworm "$dir" "$(mirror)" >"$cache/trees/$name.log" 2>&1; then
			echo "debootstrap $name failed; see $cache/trees/$name.log" >&2
			return 1
		fi
		find "$dir/dev" -mindepth 1 \( -type c -o -type b -o -type p -o -type s \) -delete
		touch "$dir/.complete"
	fi
	echo "$dir"
}

# runtime ID TREE: stage TREE/usr (+ etc) with hard links and export it.
runtime() {
	local id=$1 src=$2 build=$cache/build/$1
	rm -rf "$build"
	mkdir -p "$build"
	cp -al "$src/usr" "$build/usr" 2>/dev/null || cp -a "$src/usr" "$build/usr"
	cp -a "$src/etc" "$build/usr/etc"
	mkdir -p "$build/files"
	cat >"$build/metadata" <<META
[Runtime]
name=$id
runtime=org.porthole.Platform/$arch/$branch
sdk=org.porthole.Sdk/$arch/$branch
META
	"$porthole" build-export --runtime --no-update-summary --subject="$id $branch (Debian 12)" ${extra[@]+"${extra[@]}"} "$repo" "$build" "$branch"
	rm -rf "$build"
}

# The Sdk tree's cache name changes with its package list.
sdkpkgs=$(packages sdk)
platform=$(tree minbase "$(packages platform)") || exit 1
sdk=$(tree "sdk-$(printf %s "$sdkpkgs" | sha256sum | cut -c1-12)" "$sdkpkgs") || exit 1
runtime org.porthole.Platform "$platform"
runtime org.porthole.Sdk "$sdk"
