#!/usr/bin/env bash
# The main job, end to end, with the binaries on PATH (make demo sets it).
# Each stage shows what Porthole can do today; later stages join as they land.
set -euo pipefail
echo "== $(porthole --version)"
porthole --help
