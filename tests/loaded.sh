#!/usr/bin/env bash
# `make test` N times in a row while stress-ng keeps every core busy: the suite must not depend
# on an idle machine. Each run is `make -k test` (every part runs even when one fails, so one
# loaded run shows all that breaks); every run is made, and the script fails if any run failed.
#
# stress-ng runs at the tests' own priority (nice 0 unless the caller niced both): a hog at
# nice 19 gets ~1.5 % of a core against a nice-0 test and would load nothing. At equal
# priority the tests get about a third of the machine's CPU (2 hogs + the suite on 2 cores).
set -uo pipefail
runs=${1:-3}
stress-ng --cpu "$(nproc)" --cpu-load 100 --timeout 0 --quiet &
hog=$!
trap 'kill "$hog" 2>/dev/null; wait "$hog" 2>/dev/null || true' EXIT
echo "test-loaded: stress-ng --cpu $(nproc) (pid $hog) started; $(uptime)"
failed=0
for run in $(seq 1 "$runs"); do
  began=$(date +%s)
  if make -k test; then
    echo "test-loaded: run $run/$runs passed in $(( $(date +%s) - began )) s; $(uptime)"
  else
    echo "test-loaded: run $run/$runs FAILED after $(( $(date +%s) - began )) s; $(uptime)"
    failed=$(( failed + 1 ))
  fi
done
if [ "$failed" -gt 0 ]; then
  echo "test-loaded: $failed/$runs runs failed under load"
  exit 1
fi
echo "test-loaded: $runs/$runs runs passed under load"
