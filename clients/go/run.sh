#!/usr/bin/env bash
# Build and run a Go program of this folder in GOPATH mode against Debian's Go packages
# (golang-go, golang-google-grpc-dev, golang-google-protobuf-dev): no Go module proxy needed.
# A throwaway GOPATH maps this repository to the generated stubs' import path (go_package).
#
# Usage: clients/go/run.sh cmd/lite-conversation -target 127.0.0.1:50051
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
gopath="$(mktemp -d -t avatar-bridge-gopath.XXXXXX)"
trap 'rm -rf "$gopath"' EXIT
mkdir -p "$gopath/src/github.com/avatar-bridge"
ln -s "$repo" "$gopath/src/github.com/avatar-bridge/avatar-bridge"
export GO111MODULE=off GOPATH="$gopath:/usr/share/gocode"
export GOCACHE="${GOCACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/avatar-bridge-go-build}"
program="$1"
shift
cd "$gopath/src/github.com/avatar-bridge/avatar-bridge/clients/go"
# Not exec: the EXIT trap must still remove the throwaway GOPATH.
go run "./$program" "$@"
