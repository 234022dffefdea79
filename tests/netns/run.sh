#!/usr/bin/env bash
# Run a command inside a private network namespace with a veth pair, for WebRTC tests.
#
# libwebrtc ignores loopback interfaces, so the real LiveKit SDK can only connect to the
# emulated LiveKit server over a non-loopback interface. This script creates a throwaway
# namespace (`unshare -n` as root, `unshare -rn` otherwise) containing `lo` and a veth pair
# lkva (10.77.0.1/24) <-> lkvb (10.77.0.2/24), exports AVATAR_BRIDGE_NETNS=1 and execs the
# command there. Nothing leaves the namespace.
#
# Usage: tests/netns/run.sh [--skip-ok] COMMAND [ARGS...]
#   --skip-ok  when the namespace cannot be set up, print the reason and exit 0 without
#              running COMMAND (default: exit non-zero).
set -euo pipefail

skip_ok=0
if [[ "${1:-}" == "--skip-ok" ]]; then
    skip_ok=1
    shift
fi
if [[ $# -eq 0 ]]; then
    echo "usage: $0 [--skip-ok] COMMAND [ARGS...]" >&2
    exit 2
fi

fail() {
    echo "netns: $*" >&2
    if [[ $skip_ok -eq 1 ]]; then
        echo "netns: --skip-ok given, not running: $CMD_TEXT" >&2
        exit 0
    fi
    exit 1
}
CMD_TEXT="$*"

if [[ "${AVATAR_BRIDGE_NETNS_INSIDE:-}" == "1" ]]; then
    # Second stage: we are inside the new namespace.
    ip link set lo up || fail "cannot bring up lo"
    ip link add lkva type veth peer name lkvb 2>/dev/null \
        || fail "cannot create veth pair lkva/lkvb (veth kernel support missing?)"
    ip addr add 10.77.0.1/24 dev lkva || fail "cannot address lkva"
    ip addr add 10.77.0.2/24 dev lkvb || fail "cannot address lkvb"
    ip link set lkva up || fail "cannot bring up lkva"
    ip link set lkvb up || fail "cannot bring up lkvb"
    unset AVATAR_BRIDGE_NETNS_INSIDE
    export AVATAR_BRIDGE_NETNS=1
    exec "$@"
fi

command -v unshare >/dev/null 2>&1 || fail "unshare(1) not found"
command -v ip >/dev/null 2>&1 || fail "ip(8) not found (iproute2)"

if [[ $(id -u) -eq 0 ]]; then
    unshare_args=(-n)
else
    unshare_args=(-rn)
fi
# Probe first so that a failure to create the namespace is reported, not confused with the
# command's own exit status.
if ! unshare "${unshare_args[@]}" true 2>/dev/null; then
    fail "unshare ${unshare_args[*]} is not permitted here (no CAP_SYS_ADMIN / user namespaces disabled)"
fi
if ! unshare "${unshare_args[@]}" sh -c 'ip link add lkva type veth peer name lkvb' 2>/dev/null; then
    fail "cannot create a veth pair inside a new network namespace"
fi

script="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
AVATAR_BRIDGE_NETNS_INSIDE=1 exec unshare "${unshare_args[@]}" bash "$script" \
    $([[ $skip_ok -eq 1 ]] && echo --skip-ok) "$@"
