#!/usr/bin/env bash
# `make test` N times in a row with both cores kept busy by stress-ng; stops at the first failure.
set -euo pipefail
runs=${1:-3}
stress-ng --cpu "$(nproc)" --cpu-load 100 --timeout 0 --quiet &
hog=$!
trap 'kill "$hog" 2>/dev/null; wait "$hog" 2>/dev/null || true' EXIT
for run in $(seq 1 "$runs"); do
  began=$(date +%s)
  if make test; then
    echo "test-loaded: run $run/$runs passed in $(( $(date +%s) - began )) s"
  else
    echo "test-loaded: run $run/$runs FAILED after $(( $(date +%s) - began )) s"
    exit 1
  fi
done
echo "test-loaded: $runs/$runs runs passed under load"
