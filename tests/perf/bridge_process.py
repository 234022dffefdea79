"""A real bridge process (`avatar-bridge serve`) for memory tests, and a scriptable LITE sink.

The bridge runs as its own process so its RSS can be read from /proc without the test's own
allocations mixed in. Sessions attach to the sink (no REST calls), so the API URL is unused.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from server.helpers import WAIT_S  # tests/server/helpers.py
from server.process import SERVING_WITHIN_S  # a cold start on a loaded machine
from websockets.asyncio.server import ServerConnection, serve

from avatarbridge.v1 import avatar_bridge_pb2 as pb

CONNECTED = json.dumps({"type": "session.state_updated", "state": "connected"})
PCM24K = pb.AudioFormat(
    encoding=pb.AUDIO_ENCODING_LINEAR16, sample_rate_hertz=24000, channel_count=1
)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


@contextlib.asynccontextmanager
async def bridge_process(max_sessions: int = 10_000) -> AsyncIterator[tuple[int, int]]:
    """Start `avatar-bridge serve` on an ephemeral port; yields (pid, port)."""
    bridge = Path(sys.executable).parent / "avatar-bridge"
    # Attaches go to the sink on loopback, outside the default attach allowlist.
    env = {
        **os.environ,
        "LIVEAVATAR_API_KEY": "memory-test-key",
        "AVATAR_BRIDGE_ATTACH_ALLOW": "127.0.0.1",
    }
    proc = await asyncio.create_subprocess_exec(
        str(bridge),
        "serve",
        "--listen=127.0.0.1:0",
        "--api-url=http://127.0.0.1:9",
        "--log-format=json",
        "--log-level=warning",
        f"--max-sessions={max_sessions}",
        env=env,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        port = await asyncio.wait_for(_listening_port(proc), SERVING_WITHIN_S)
        drain = asyncio.create_task(_drain(proc))
        yield proc.pid, port
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), WAIT_S)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        with contextlib.suppress(NameError):
            drain.cancel()


async def _listening_port(proc: asyncio.subprocess.Process) -> int:
    """The port the process listens on, from /proc (no log parsing, any log level)."""
    while proc.returncode is None:
        port = _tcp_listen_port(proc.pid)
        if port:
            return port
        await asyncio.sleep(0.05)
    raise AssertionError(f"the bridge exited with {proc.returncode} before listening")


def _tcp_listen_port(pid: int) -> int:
    inodes = set()
    with contextlib.suppress(FileNotFoundError, PermissionError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                    return int(fields[1].rsplit(":", 1)[1], 16)
    return 0


async def _drain(proc: asyncio.subprocess.Process) -> None:
    assert proc.stderr is not None
    while await proc.stderr.readline():
        pass


Behaviour = Callable[[ServerConnection], Awaitable[None]]


@contextlib.asynccontextmanager
async def lite_sink(behaviour: Behaviour) -> AsyncIterator[int]:
    """A LITE WebSocket endpoint: says `connected`, then runs `behaviour`; yields its port."""

    async def handle(ws: ServerConnection) -> None:
        await ws.send(CONNECTED)
        await behaviour(ws)

    async with serve(handle, "127.0.0.1", 0, compression=None, ping_interval=None) as server:
        yield server.sockets[0].getsockname()[1]


def attach_config(sink_port: int, name: str) -> pb.ConverseRequest:
    return pb.ConverseRequest(
        config=pb.SessionConfig(
            input_audio=PCM24K,
            attach=pb.AttachSession(
                session_id=name,
                lite=pb.LiteAttachment(ws_url=f"ws://127.0.0.1:{sink_port}/{name}"),
            ),
        )
    )
