#!/usr/bin/env bash
# A FULL conversation on any machine, even one whose only interface is loopback (WebRTC ignores
# loopback): the bridge (with its embedded emulator) and grpcurl run together in a private
# network namespace (tests/netns/run.sh). Waits until the bridge reports SERVING (startup there
# takes several seconds), sends a JSONL request file (default: the FULL example), and stops the
# bridge on the way out, so nothing is left running. Inside the namespace the default ports never
# clash with a `make run` outside it.
#
# Usage: bash examples/full-demo.sh [REQUESTS.jsonl]      (or: make full-demo)
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${AVATAR_BRIDGE_NETNS:-}" != "1" ]]; then
    exec bash tests/netns/run.sh bash examples/full-demo.sh "$@"
fi

requests="${1:-examples/grpcurl/full-hello.jsonl}"
target=localhost:50051
log="$(mktemp -t avatar-bridge-demo.XXXXXX.log)"
.venv/bin/avatar-bridge serve --emulator --log-format text >"$log" 2>&1 &
bridge=$!
trap 'kill "$bridge" 2>/dev/null || true; wait "$bridge" 2>/dev/null || true' EXIT

ready=0
for _ in $(seq 240); do  # up to 60 s
    if .venv/bin/grpcurl -plaintext -d '{"service":"avatarbridge.v1.AvatarBridgeService"}' \
        "$target" grpc.health.v1.Health/Check >/dev/null 2>&1; then
        ready=1
        break
    fi
    kill -0 "$bridge" 2>/dev/null || break
    sleep 0.25
done
if [[ $ready -ne 1 ]]; then
    echo "full-demo: the bridge did not become ready; its log ($log):" >&2
    cat "$log" >&2
    exit 1
fi
echo "full-demo: bridge ready; sending $requests" >&2
status=0
.venv/bin/grpcurl -plaintext -d @ "$target" avatarbridge.v1.AvatarBridgeService/Converse \
    <"$requests" || status=$?
if [[ $status -eq 0 ]]; then rm -f "$log"; else echo "full-demo: bridge log: $log" >&2; fi
exit "$status"
