"""Reliability test helpers: live streams, fault rules, a bridge process, a Redis server."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from server.helpers import WAIT_S, Inspector, Stream, lite_config
from server.process import BridgeProcess as BridgeProcess  # re-exported: tests/plat uses it
from server.process import free_port, wait_listening

from avatarbridge.v1 import avatar_bridge_pb2_grpc as pb_grpc


async def arm(emu: Inspector, **rule: Any) -> dict[str, Any]:
    """Arm an emulator fault rule (see liveavatar_emulator.faults)."""
    response = await emu.http.post("/_emulator/faults/rules", json=rule)
    response.raise_for_status()
    armed: dict[str, Any] = response.json()
    return armed


async def rules(emu: Inspector) -> list[dict[str, Any]]:
    response = await emu.http.get("/_emulator/faults")
    response.raise_for_status()
    found: list[dict[str, Any]] = response.json()["rules"]
    return found


async def open_live(stub: pb_grpc.AvatarBridgeServiceStub, count: int) -> list[Stream]:
    """`count` conversations that reached session_started, opened concurrently."""

    async def one() -> Stream:
        stream = Stream(stub)
        await stream.send(lite_config())
        await stream.started()
        return stream

    return list(await asyncio.gather(*(one() for _ in range(count))))


async def wait_active(emu: Inspector, count: int, within_s: float = WAIT_S) -> list[str]:
    """Poll until exactly `count` sessions are active (bounded); returns the active ids."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while True:
        ids = await emu.active()
        if len(ids) == count or loop.time() >= deadline:
            return ids
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def redis_server(workdir: Path) -> AsyncIterator[str]:
    """A real redis-server (Debian's) on a free loopback port; yields its URL."""
    binary = shutil.which("redis-server")
    assert binary is not None
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        binary,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(workdir),
        "--save",
        "",
        "--appendonly",
        "no",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await wait_listening(proc, port, "redis-server")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        await proc.wait()
