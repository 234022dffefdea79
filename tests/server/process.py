"""A real `avatar-bridge serve` process for the tests that need one (signals, exit codes, logs):
its stderr collected line by line, health polled until SERVING, exit awaited within a bound."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import httpx
from conftest import API_KEY  # tests/conftest.py
from grpc_health.v1 import health_pb2, health_pb2_grpc

from .helpers import WAIT_S

BRIDGE = Path(sys.executable).parent / "avatar-bridge"
SERVING_WITHIN_S = 60.0
"""A cold start imports the world; on a loaded machine that takes long. Only an upper bound."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class BridgeProcess:
    """A running `avatar-bridge serve` whose stderr is collected line by line."""

    def __init__(self, proc: asyncio.subprocess.Process, port: int) -> None:
        self.proc = proc
        self.target = f"127.0.0.1:{port}"
        self.stderr: list[str] = []
        assert proc.stderr is not None
        self._reader = asyncio.create_task(self._collect(proc.stderr))

    @classmethod
    async def spawn(cls, port: int, *args: str, env: dict[str, str]) -> BridgeProcess:
        """`avatar-bridge serve ARGS` listening on `port` (named in ARGS or `env`); not awaited
        until SERVING, so a test can watch the start itself."""
        proc = await asyncio.create_subprocess_exec(
            str(BRIDGE),
            "serve",
            *args,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        return cls(proc, port)

    @classmethod
    async def start(cls, api_url: str, *flags: str, grace_s: float = 5.0) -> BridgeProcess:
        """A bridge in real LiveAvatar mode pointed at `api_url`, JSON logs, up to 500
        sessions; returns once it is SERVING."""
        bridge = await cls.launch(api_url, *flags, grace_s=grace_s)
        await bridge.wait_serving()
        return bridge

    @classmethod
    async def launch(cls, api_url: str, *flags: str, grace_s: float = 5.0) -> BridgeProcess:
        """The bridge `start` makes, returned as soon as it is spawned (a test can watch its
        start itself)."""
        port = free_port()
        env = {
            **os.environ,
            "LIVEAVATAR_API_KEY": API_KEY,
            "LIVEAVATAR_API_URL": api_url,
            "AVATAR_BRIDGE_LOG_FORMAT": "json",
        }
        bridge = await cls.spawn(
            port,
            "--listen",
            f"127.0.0.1:{port}",
            "--shutdown-grace-s",
            str(grace_s),
            "--max-sessions",
            "500",
            *flags,
            env=env,
        )
        return bridge

    async def _collect(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            self.stderr.append(line.decode("utf-8", "replace").rstrip("\n"))

    async def wait_serving(self) -> None:
        """Poll the health service until SERVING (bounded); fail early if the process dies."""
        async with grpc.aio.insecure_channel(self.target) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + SERVING_WITHIN_S
            while True:
                assert self.proc.returncode is None, "\n".join(self.stderr)
                with contextlib.suppress(grpc.aio.AioRpcError, TimeoutError):
                    reply = await asyncio.wait_for(
                        health.Check(health_pb2.HealthCheckRequest(service="")), WAIT_S
                    )
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                assert loop.time() < deadline, "bridge never SERVING:\n" + "\n".join(self.stderr)
                await asyncio.sleep(0.1)

    def signal(self, sig: signal.Signals) -> None:
        self.proc.send_signal(sig)

    async def wait_exit(self, within_s: float) -> int | None:
        """The exit status, or None if still running after `within_s`; stderr read to its end."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.proc.wait(), within_s)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._reader, WAIT_S)
        return self.proc.returncode

    async def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
        await self.wait_exit(WAIT_S)

    def lines(self, needle: str) -> list[str]:
        return [line for line in self.stderr if needle in line]


async def wait_listening(
    proc: asyncio.subprocess.Process, port: int, name: str, within_s: float = WAIT_S
) -> None:
    """Until `proc` accepts TCP connections on loopback `port` (bounded); fails, with what it
    wrote to a piped stderr, if it exits first."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if proc.returncode is not None:
                said = await proc.stderr.read() if proc.stderr else b""
                raise AssertionError(f"{name} exited: {said.decode(errors='replace')}") from None
            assert loop.time() < deadline, f"{name} never listened"
            await asyncio.sleep(0.05)
        else:
            writer.close()
            return


@contextlib.asynccontextmanager
async def emulator_process() -> AsyncIterator[str]:
    """`liveavatar-emulator` in its own process (its own CPU, apart from the test's clients)."""
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        str(BRIDGE.parent / "liveavatar-emulator"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--api-key",
        API_KEY,
        # LITE only: no LiveKit server (its default port 7880 may be taken by a `make run`).
        "--no-livekit",
        "--connect-delay",
        "0.05",
        "--log-level",
        "warning",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=url, timeout=2.0) as http:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 60.0  # A cold start imports FastAPI and aiortc.
            while True:
                try:
                    if (await http.get("/_emulator/active")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert proc.returncode is None, "liveavatar-emulator exited"
                assert loop.time() < deadline, "liveavatar-emulator never answered"
                await asyncio.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        await proc.wait()
