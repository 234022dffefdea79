#!/usr/bin/env bash
# Build the Go load generator + LITE sink (benchmarks/go/loadgen) in GOPATH mode against Debian's
# Go packages (golang-go, golang-google-grpc-dev, golang-google-protobuf-dev), like
# clients/go/run.sh: no Go module proxy needed.
#
# Usage: benchmarks/go/build.sh OUTPUT_BINARY
set -euo pipefail
out="$(realpath -m "$1")"
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
gopath="$(mktemp -d -t avatar-bridge-loadgen.XXXXXX)"
trap 'rm -rf "$gopath"' EXIT
mkdir -p "$gopath/src/github.com/avatar-bridge"
ln -s "$repo" "$gopath/src/github.com/avatar-bridge/avatar-bridge"
export GO111MODULE=off GOPATH="$gopath:/usr/share/gocode"
export GOCACHE="${GOCACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/avatar-bridge-go-build}"
cd "$gopath/src/github.com/avatar-bridge/avatar-bridge/benchmarks/go"
go build -o "$out" ./loadgen
