"""The real grpcurl binary, run as an asyncio subprocess (the bridge keeps serving meanwhile).

Exit status: 0 for OK, 64 + the gRPC status code for an RPC error, 1 when it cannot connect.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from server.commands import GRPCURL, run  # tests/server/commands.py
from server.commands import SERVICE as SERVICE  # re-exported for the security tests

# grpcurl's exit status for each gRPC code: 64 + the code's number.
UNAUTHENTICATED_EXIT = 64 + 16
PERMISSION_DENIED_EXIT = 64 + 7
RESOURCE_EXHAUSTED_EXIT = 64 + 8
INVALID_ARGUMENT_EXIT = 64 + 3


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


REFUSED_CONNECT_S = "3"
"""Connect timeout for calls whose handshake must fail: grpcurl retries a refused handshake
until this passes. Each such test also makes a call that must succeed (default timeout)."""


async def grpcurl(*args: str, data: dict[str, Any] | None = None, refused: bool = False) -> Result:
    argv = [str(GRPCURL), "-max-time", "10"]
    if refused:
        argv += ["-connect-timeout", REFUSED_CONNECT_S]
    if data is not None:
        argv += ["-d", json.dumps(data)]
    return Result(*await run(*argv, *args))


def bearer(key: str) -> tuple[str, str]:
    return ("-H", f"authorization: Bearer {key}")
