#!/bin/sh
# Benchmarks porthole dbus-proxy against xdg-dbus-proxy (Debian's 0.1.4) in
# one run and prints the ratios (porthole / xdg-dbus-proxy; below 1 is
# better), then runs the 100 clients × 10,000 messages stress test.
#
#   bench/dbusproxy.sh [ROUNDS]     (default 5 rounds; medians are reported)
#
# What is measured (tests/dbusproxy_bench_test.go):
#   - round trip: one call and its reply, direct and through each proxy,
#     to the bus driver and to a peer; the overhead is total minus direct;
#   - start-up: exec to the 'x' on --fd, for `porthole dbus-proxy` as users
#     run it (porthole hands the verb over to porthole-dbus-proxy beside it);
#   - memory: VmRSS growth per client over 160 clients (Hello and one call
#     each), after 60 warm-up clients, and VmRSS with one client.
# Needs dbus-daemon and xdg-dbus-proxy. Runs only the dbusproxy test files,
# so unrelated work in progress under tests/ cannot break it.
set -eu
cd "$(dirname "$0")/.."
rounds=${1:-5}
# The binaries users run: make's (PORTHOLE_BIN, as `make bench` sets it).
if [ -z "${PORTHOLE_BIN:-}" ]; then
	make -s build/bin/porthole build/bin/porthole-dbus-proxy
	PORTHOLE_BIN=$PWD/build/bin
fi
export PORTHOLE_BIN
out=$(mktemp)
trap 'rm -f "$out"' EXIT

echo "== benchmarks ($rounds interleaved rounds, medians)" >&2
go test -c -o "$out.test" tests/dbusproxy_helpers_test.go tests/dbusproxy_diff_test.go \
	tests/dbusproxy_sys_test.go tests/dbusproxy_bench_test.go
trap 'rm -f "$out" "$out.test"' EXIT
i=0
while [ "$i" -lt "$rounds" ]; do
	# One round runs every variant once, so load changes hit all alike.
	(cd tests && "$out.test" -test.run '^$' -test.bench 'DBusProxy(RoundTrip|Startup)/(interleaved|inprocess)' \
		-test.benchtime=1s) | grep '^Benchmark' | tee -a "$out" >&2
	i=$((i + 1))
done
go test tests/dbusproxy_helpers_test.go tests/dbusproxy_diff_test.go tests/dbusproxy_sys_test.go \
	tests/dbusproxy_bench_test.go -run '^$' -bench 'DBusProxyMemory' \
	-benchtime=1x -count=3 | grep '^Benchmark' | tee -a "$out" >&2

python3 - "$out" <<'PY'
import re, statistics, sys
vals = {}
for line in open(sys.argv[1]):
    name = re.sub(r'-\d+$', '', line.split()[0]).replace('BenchmarkDBusProxy', '')
    f = line.split()
    for i in range(2, len(f) - 1):
        if f[i + 1] in ('ns/op', 'KiB/client', 'KiB-idle'):
            vals.setdefault((name, f[i + 1]), []).append(float(f[i]))
        elif name == 'Startup/interleaved' and f[i + 1] in ('xdg-ns', 'ours-ns'):
            vals.setdefault(('Startup/' + f[i + 1][:-3], 'ns/op'), []).append(float(f[i]))
        elif name == 'RoundTrip/interleaved' and f[i + 1].endswith('-ns'):
            t, which = f[i + 1][:-3].split('-')
            vals.setdefault(('RoundTrip/%s/%s' % (t, which), 'ns/op'), []).append(float(f[i]))
med = {k: statistics.median(v) for k, v in vals.items()}
def g(name, unit='ns/op'):
    return med.get((name, unit))
print()
print('%-34s %14s %14s %8s' % ('metric', 'xdg-dbus-proxy', 'porthole', 'ratio'))
def row(label, x, o, unit, scale=1.0):
    if x is None or o is None:
        return
    print('%-34s %11.1f %s %11.1f %s %8.2f' % (label, x / scale, unit, o / scale, unit, o / x))
for t in ('bus', 'peer'):
    d, x, o = g('RoundTrip/%s/direct' % t), g('RoundTrip/%s/xdg' % t), g('RoundTrip/%s/ours' % t)
    if None not in (d, x, o):
        row('round trip to %s (total)' % t, x, o, 'us', 1000)
        row('  overhead over direct', x - d, o - d, 'us', 1000)
row('start-up to ready (exec)', g('Startup/xdg'), g('Startup/ours'), 'ms', 1e6)
if g('Startup/inprocess') is not None and g('Startup/xdg') is not None:
    row('start-up to ready (in process)', g('Startup/xdg'), g('Startup/inprocess'), 'ms', 1e6)
row('memory per client (RSS)', g('Memory/xdg', 'KiB/client'), g('Memory/ours', 'KiB/client'), 'KiB')
row('memory idle (RSS)', g('Memory/xdg', 'KiB-idle'), g('Memory/ours', 'KiB-idle'), 'KiB')
PY

echo >&2
echo "== stress: 100 clients x 10,000 messages through the proxy" >&2
go test ./launcher/dbusproxy -run 'TestConcurrentClients10k' -count=1 -v | grep -E '^(---|ok|FAIL)'
