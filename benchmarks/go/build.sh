#!/usr/bin/env bash
# Build the Go load generator + LITE sink (benchmarks/go/loadgen) in GOPATH mode against Debian's
# Go packages, as clients/go/run.sh runs the clients (clients/go/gopath.sh): no Go module proxy.
#
# Usage: benchmarks/go/build.sh OUTPUT_BINARY
set -euo pipefail
out="$(realpath -m "$1")"
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck source=clients/go/gopath.sh
source "$repo/clients/go/gopath.sh"
enter_gopath "$repo" benchmarks/go
go build -o "$out" ./loadgen
