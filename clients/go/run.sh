#!/usr/bin/env bash
# Build and run a Go program of this folder in GOPATH mode against Debian's Go packages
# (see gopath.sh): no Go module proxy needed.
#
# Usage: clients/go/run.sh cmd/lite-conversation -target 127.0.0.1:50051
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=clients/go/gopath.sh
source "$here/gopath.sh"
enter_gopath "$(cd "$here/../.." && pwd)" clients/go
program="$1"
shift
# Not exec: the EXIT trap must still remove the throwaway GOPATH.
go run "./$program" "$@"
