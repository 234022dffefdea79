# Sourced by clients/go/run.sh and benchmarks/go/build.sh: Go in GOPATH mode against Debian's Go
# packages (golang-go, golang-google-grpc-dev, golang-google-protobuf-dev), so no Go module proxy
# is needed. A throwaway GOPATH maps this repository to the generated stubs' import path
# (go_package); it is removed when the sourcing shell exits.
#
# Usage: source clients/go/gopath.sh; enter_gopath REPO SUBDIR   (then `go build` / `go run`)
enter_gopath() {
  local repo="$1" subdir="$2"
  gopath="$(mktemp -d -t avatar-bridge-gopath.XXXXXX)"
  trap 'rm -rf "$gopath"' EXIT
  mkdir -p "$gopath/src/github.com/avatar-bridge"
  ln -s "$repo" "$gopath/src/github.com/avatar-bridge/avatar-bridge"
  export GO111MODULE=off GOPATH="$gopath:/usr/share/gocode"
  export GOCACHE="${GOCACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/avatar-bridge-go-build}"
  cd "$gopath/src/github.com/avatar-bridge/avatar-bridge/$subdir"
}
