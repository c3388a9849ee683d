#!/usr/bin/env bash
# Sandbox start-up benchmark, side by side in one run on the same installed
# app and runtime (a Debian minbase /usr as the runtime):
#   porthole run --command=true APP   vs   flatpak run --command=true APP
#   vs bare bwrap doing the very mounts of porthole's spec for the app
#   (converted by bench/run_bwrapargs; no seccomp) and a minimal bwrap.
# Unprivileged (uid 4242, porthole-test), hyperfine -N, medians and ratios.
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
chmod 755 "$WORK"
mkdir -p "$WORK/home" "$WORK/xrd"
chown -R "$USER_ID:$USER_ID" "$WORK/home" "$WORK/xrd"
chmod 700 "$WORK/xrd"
cp "$BIN/porthole" "$BIN/porthole-init" "$WORK/"
chmod 755 "$WORK/porthole" "$WORK/porthole-init"
trap 'rm -rf "$WORK"' EXIT

BWRAP_MIN="bwrap --ro-bind $RT /usr --ro-bind $APPF /app --proc /proc --dev /dev --dir /tmp --dir /var/tmp --dir /run/host --perms 0700 --dir /run/user/$USER_ID --symlink ../run /var/run --symlink usr/bin /bin --symlink usr/lib /lib --symlink usr/lib64 /lib64 --symlink usr/sbin /sbin --ro-bind $RT/etc/ld.so.cache /etc/ld.so.cache --ro-bind /etc/resolv.conf /etc/resolv.conf --ro-bind /etc/machine-id /etc/machine-id --bind $WORK/home $WORK/home --unshare-pid --unshare-ipc --unshare-net --setenv PATH /app/bin:/usr/bin true"

run_as() {
	setpriv --reuid="$USER_ID" --regid="$USER_ID" --clear-groups \
		env -i HOME="$WORK/home" XDG_RUNTIME_DIR="$WORK/xrd" PATH=/usr/bin:/bin \
		FLATPAK_USER_DIR="$FIX/inst" PORTHOLE_USER_DIR="$FIX/inst" PORTHOLE_SYSTEM_DIR="$WORK/none" "$@"
}

# Bare bwrap doing the same mounts as porthole's spec for this app (no
# seccomp, no instance bookkeeping): the spec is dumped and converted.
(cd "$(dirname "$0")/.." && go build -o "$WORK/bwrapargs" ./bench/run_bwrapargs)
mkdir -p "$WORK/data" && chmod 755 "$WORK/data"
run_as env PORTHOLE_SPEC_OUT="$WORK/home/spec.json" "$WORK/porthole" run --user --command=true $APP
"$WORK/bwrapargs" "$WORK/home/spec.json" "$WORK/data" >"$WORK/bwrap.args"
chmod -R a+rX "$WORK/data"
BWRAP=$(python3 -c 'import shlex,sys; print(shlex.join(["bwrap"] + open(sys.argv[1]).read().split("\n")))' "$WORK/bwrap.args")
echo "flatpak: $(flatpak --version)  bwrap: $(bwrap --version)  porthole: $("$WORK/porthole" --version)  runs: $RUNS  uid: $USER_ID"
run_as hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$WORK/home/run.json" \
	-n porthole "$WORK/porthole run --user --command=true $APP" \
	-n flatpak "flatpak run --user --command=true $APP" \
	-n bwrap "$BWRAP" -n bwrap-minimal "$BWRAP_MIN" >"$WORK/hyperfine.log" 2>&1 || { cat "$WORK/hyperfine.log"; exit 1; }
python3 - "$WORK/home/run.json" "$RESULTS/summary.tsv" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
med = {k: v["median"] * 1000 for k, v in r.items()}
for k in ("porthole", "flatpak", "bwrap", "bwrap-minimal"):
    v = r[k]
    print(f"{k:10s} median {med[k]:7.2f} ms  (min {v['min']*1000:.2f}, max {v['max']*1000:.2f})")
print(f"porthole/flatpak = {med['porthole']/med['flatpak']:.2f}  (goal < 0.33)")
print(f"porthole/bwrap   = {med['porthole']/med['bwrap']:.2f}  (goal <= 1.5; bwrap doing the same mounts, no seccomp)")
print(f"porthole/bwrap-minimal = {med['porthole']/med['bwrap-minimal']:.2f}  (bwrap with ~20 mounts only)")
with open(sys.argv[2], "a") as f:
    f.write(f"run --command=true (ms)\t{med['porthole']:.2f}\t{med['flatpak']:.2f}\t{med['flatpak']/med['porthole']:.2f}\n")
PY
