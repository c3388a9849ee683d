#!/usr/bin/env bash
# Sandbox start-up benchmark, side by side in one run on the same installed
# app and runtime (a Debian minbase /usr as the runtime):
#   porthole run --command=true APP   vs   flatpak run --command=true APP
#   vs bare bwrap doing the very mounts of porthole's spec for the app
#   (converted by bench/run_bwrapargs; no seccomp) and a minimal bwrap.
# Unprivileged (uid 4242, porthole-test) and as root, interleaved runs
# (bench/run_timer), medians and ratios.
# Usage: bench/run.sh   (PORTHOLE_BIN=build/bin, RUNS=30)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-30}
. bench/lib.sh
BIN=${PORTHOLE_BIN:-$(pwd)/build/bin}
USER_ID=${BENCH_UID:-4242}
[ -f "$CACHE/trees/minbase/.complete" ] || (set +o pipefail; ensure_trees)
MIN=$CACHE/trees/minbase
FIX=${BENCH_FIXTURE:-/var/tmp/porthole-bench-run} # reachable by the benchmark user
APP=org.porthole.Bench

# A Flatpak installation with runtime org.porthole.BenchPlatform (minbase
# /usr + /etc, as Flatpak runtimes carry etc under usr) and an empty app.
if [ ! -f "$FIX/.complete" ]; then
	rm -rf "$FIX"
	mkdir -p "$FIX/rt/files" "$FIX/app/files/bin" "$FIX/app/var"
	cp -a "$MIN/usr" "$FIX/rt/usr"
	cp -a "$MIN/etc" "$FIX/rt/usr/etc"
	printf '[Runtime]\nname=org.porthole.BenchPlatform\nruntime=org.porthole.BenchPlatform/x86_64/1\nsdk=org.porthole.BenchPlatform/x86_64/1\n' >"$FIX/rt/metadata"
	printf '[Application]\nname=%s\nruntime=org.porthole.BenchPlatform/x86_64/1\nsdk=org.porthole.BenchPlatform/x86_64/1\ncommand=true\n' "$APP" >"$FIX/app/metadata"
	flatpak build-export --runtime "$FIX/repo" "$FIX/rt" 1 >/dev/null
	flatpak build-finish "$FIX/app" >/dev/null
	flatpak build-export "$FIX/repo" "$FIX/app" 1 >/dev/null
	FLATPAK_USER_DIR=$FIX/inst flatpak --user remote-add --no-gpg-verify bench "file://$FIX/repo"
	FLATPAK_USER_DIR=$FIX/inst flatpak --user install -y --noninteractive bench org.porthole.BenchPlatform $APP >/dev/null
	chmod -R a+rX "$FIX"
	touch "$FIX/.complete"
fi
RT=$(readlink -f "$FIX/inst/runtime/org.porthole.BenchPlatform/x86_64/1/active/files")
APPF=$(readlink -f "$FIX/inst/app/$APP/x86_64/1/active/files")

WORK=$(mktemp -d /tmp/porthole-bench-run.XXXXXX)
# XDG_RUNTIME_DIR is a tmpfs on real systems (/run/user/UID): instance
# directories go there, for Flatpak and Porthole alike.
XRD=$(mktemp -d /dev/shm/porthole-bench-xrd.XXXXXX)
chmod 755 "$XRD"
chmod 755 "$WORK"
mkdir -p "$WORK/home" "$XRD/user"
chown -R "$USER_ID:$USER_ID" "$WORK/home" "$XRD/user"
chmod 700 "$XRD/user"
cp "$BIN/porthole" "$BIN/porthole-init" "$WORK/"
chmod 755 "$WORK/porthole" "$WORK/porthole-init"
trap 'rm -rf "$WORK" "$XRD"' EXIT

BWRAP_MIN="bwrap --ro-bind $RT /usr --ro-bind $APPF /app --proc /proc --dev /dev --dir /tmp --dir /var/tmp --dir /run/host --perms 0700 --dir /run/user/$USER_ID --symlink ../run /var/run --symlink usr/bin /bin --symlink usr/lib /lib --symlink usr/lib64 /lib64 --symlink usr/sbin /sbin --ro-bind $RT/etc/ld.so.cache /etc/ld.so.cache --ro-bind /etc/resolv.conf /etc/resolv.conf --ro-bind /etc/machine-id /etc/machine-id --bind $WORK/home $WORK/home --unshare-pid --unshare-ipc --unshare-net --setenv PATH /app/bin:/usr/bin true"

run_as() {
	setpriv --reuid="$USER_ID" --regid="$USER_ID" --clear-groups \
		env -i HOME="$WORK/home" XDG_RUNTIME_DIR="$XRD/user" PATH=/usr/bin:/bin \
		FLATPAK_USER_DIR="$FIX/inst" PORTHOLE_USER_DIR="$FIX/inst" PORTHOLE_SYSTEM_DIR="$WORK/none" "$@"
}

run_as_root() {
	env -i HOME="$WORK/roothome" XDG_RUNTIME_DIR="$XRD/root" PATH=/usr/bin:/bin \
		FLATPAK_USER_DIR="$FIX/inst" PORTHOLE_USER_DIR="$FIX/inst" PORTHOLE_SYSTEM_DIR="$WORK/none" "$@"
}
mkdir -p "$WORK/roothome" "$XRD/root" && chmod 700 "$XRD/root"

# Bare bwrap doing the same mounts as porthole's spec for this app (no
# seccomp, no instance bookkeeping): the spec is dumped and converted.
(cd "$(dirname "$0")/.." && go build -o "$WORK/bwrapargs" ./bench/run_bwrapargs && go build -o "$WORK/run_timer" ./bench/run_timer)
mkdir -p "$WORK/data" "$WORK/data-root" && chmod 755 "$WORK/data" "$WORK/data-root"
run_as env PORTHOLE_SPEC_OUT="$WORK/home/spec.json" "$WORK/porthole" run --user --command=true $APP
"$WORK/bwrapargs" "$WORK/home/spec.json" "$WORK/data" >"$WORK/bwrap.args"
run_as_root env PORTHOLE_SPEC_OUT="$WORK/roothome/spec.json" "$WORK/porthole" run --user --command=true $APP
"$WORK/bwrapargs" "$WORK/roothome/spec.json" "$WORK/data-root" >"$WORK/bwrap-root.args"
chmod -R a+rX "$WORK/data" "$WORK/data-root"
# Argument vectors for run_timer, one argument a line.
{ echo bwrap; cat "$WORK/bwrap.args"; } >"$WORK/bwrap.argv"
{ echo bwrap; cat "$WORK/bwrap-root.args"; } >"$WORK/bwrap-root.argv"
echo "flatpak: $(flatpak --version)  bwrap: $(bwrap --version)  porthole: $("$WORK/porthole" --version)  runs: $RUNS (interleaved)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
# Interleaved (porthole, flatpak, bwrap, … in turn), so that load from
# elsewhere falls on all alike; hyperfine runs each command's series in
# one block.
run_as "$WORK/run_timer" -runs "$RUNS" -warmup 3 \
	"porthole=$WORK/porthole run --user --command=true $APP" \
	"flatpak=flatpak run --user --command=true $APP" \
	"bwrap=@$WORK/bwrap.argv" "bwrap-minimal=$BWRAP_MIN" >"$WORK/run.json"
run_as_root "$WORK/run_timer" -runs "$RUNS" -warmup 3 \
	"porthole=$WORK/porthole run --user --command=true $APP" \
	"flatpak=flatpak run --user --command=true $APP" \
	"bwrap=@$WORK/bwrap-root.argv" >"$WORK/run-root.json"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$WORK/run.json" "$WORK/run-root.json" "$RESULTS/summary.tsv" <<'PY'
import json, sys
def load(p):
    return {x["name"]: x for x in json.load(open(p))}
for title, path, names in (("unprivileged (uid 4242)", sys.argv[1], ("porthole", "flatpak", "bwrap", "bwrap-minimal")),
                           ("root", sys.argv[2], ("porthole", "flatpak", "bwrap"))):
    r = load(path)
    med = {k: r[k]["median"] for k in names}
    print(f"{title}:")
    for k in names:
        print(f"  {k:13s} median {med[k]:7.2f} ms  (min {r[k]['min']:.2f}, max {r[k]['max']:.2f})")
    print(f"  porthole/flatpak = {med['porthole']/med['flatpak']:.2f}  (goal < 0.33)")
    print(f"  porthole/bwrap   = {med['porthole']/med['bwrap']:.2f}  (goal <= 1.5; bwrap doing the same mounts, no seccomp)")
    if "bwrap-minimal" in med:
        print(f"  porthole/bwrap-minimal = {med['porthole']/med['bwrap-minimal']:.2f}  (bwrap with ~20 mounts only)")
    if title == "root":
        suffix = " as root"
    else:
        suffix = ""
    with open(sys.argv[3], "a") as f:
        f.write(f"run --command=true{suffix} (ms)\t{med['porthole']:.2f}\t{med['flatpak']:.2f}\t{med['flatpak']/med['porthole']:.2f}\n")
PY
