"""`python -m avatar_bridge.healthcheck`: exit 0 when the local bridge reports SERVING.

The container HEALTHCHECK runs this so it follows the configured listen address
(AVATAR_BRIDGE_LISTEN) instead of a hard-coded port. A separate short-lived process: the
blocking channel here never shares an event loop with the server.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from avatar_bridge import config as config_module

# A wildcard listen address is reachable on loopback; a specific one is dialled as given.
_WILDCARDS = {"0.0.0.0": "127.0.0.1", "[::]": "[::1]", "": "127.0.0.1"}


def target_for(listen: str) -> str:
    """The address to dial for a server that listens on `listen` (host:port)."""
    host, _, port = listen.rpartition(":")
    return f"{_WILDCARDS.get(host, host)}:{port}"


def check(target: str, timeout_s: float) -> bool:
    with grpc.insecure_channel(target) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=timeout_s
            )
        except grpc.RpcError:
            return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    del argv
    config = config_module.from_sources(None, env)
    target = target_for(config.listen)
    if check(target, timeout_s=2.0):
        return 0
    print(f"avatar-bridge healthcheck: {target} is not SERVING", file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
