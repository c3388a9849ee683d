#!/usr/bin/env bash
# Runs `go test` over the given packages and closes with one summary line
# ("go-test: N passed, N failed, N skipped"), so a run that executed no test
# is visible. Exit status is go test's.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
log=$top/build/test.log
mkdir -p "$top/build"
go test -count=1 -timeout=25m -v "$@" 2>&1 | tee "$log" | grep -vE '^(=== (RUN|PAUSE|CONT|NAME)| *--- PASS)'
status=${PIPESTATUS[0]}
passed=$(grep -cE '^ *--- PASS' "$log")
failed=$(grep -cE '^ *--- FAIL' "$log")
skipped=$(grep -cE '^ *--- SKIP' "$log")
if [ "$failed" -gt 0 ]; then
  echo
  echo "Failed tests:"
  grep -E '^ *--- FAIL' "$log"
fi
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  # A build failure or a panic fails without a --- FAIL line.
  grep -E '^(FAIL|panic:|# )' "$log" | head -40
  failed=$((failed + 1))
fi
echo
echo "go-test: $passed passed, $failed failed, $skipped skipped"
exit "$status"
