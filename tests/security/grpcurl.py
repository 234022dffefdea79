"""The real grpcurl binary, run as an asyncio subprocess (the bridge keeps serving meanwhile).

Exit status: 0 for OK, 64 + the gRPC status code for an RPC error, 1 when it cannot connect.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server.helpers import WAIT_S  # tests/server/helpers.py

GRPCURL = Path(sys.executable).parent / "grpcurl"
SERVICE = "avatarbridge.v1.AvatarBridgeService"
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
    proc = await asyncio.create_subprocess_exec(
        *argv,
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), WAIT_S)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return Result(proc.returncode, out.decode(), err.decode())


def bearer(key: str) -> tuple[str, str]:
    return ("-H", f"authorization: Bearer {key}")
