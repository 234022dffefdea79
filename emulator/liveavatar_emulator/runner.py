"""Run the emulator in-process on the current event loop (tests, ``make run``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Generator
from types import TracebackType
from typing import Self

import uvicorn
from fastapi import FastAPI

from .app import create_app
from .config import EmulatorConfig
from .sessions import FullBackend, SessionRegistry

logger = logging.getLogger(__name__)

_STARTUP_TIMEOUT_S = 10.0
_SHUTDOWN_TIMEOUT_S = 5.0


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves the host's signal handlers alone and exits on request
    without waiting for its 100 ms polling tick."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._exit_requested = asyncio.Event()

    def request_exit(self) -> None:
        """Ask the main loop to stop now."""
        self.should_exit = True
        self._exit_requested.set()

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield

    async def main_loop(self) -> None:
        counter = 0
        while not await self.on_tick(counter):
            # on_tick refreshes the Date header when counter % 10 == 0, i.e. once a second here.
            counter = (counter + 10) % 864000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._exit_requested.wait(), 1.0)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must be IPPROTO_TCP: asyncio only sets TCP_NODELAY on accepted sockets whose proto
    # says TCP, and without it Nagle + delayed ACK add ~40 ms to every keep-alive request.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


class Emulator:
    """Async context manager serving the emulator on ``host:port`` (0 = any free port).

    After ``__aenter__``: ``base_url``, ``port``, ``registry``, ``config`` and ``app``.
    ``__aexit__`` ends every session (reason ``UNKNOWN``, close code 1001) and stops uvicorn.
    """

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        full_backend: FullBackend | None = None,
        *,
        access_log: bool = False,
        log_level: str = "warning",
    ) -> None:
        self.config = config or EmulatorConfig()
        self.host = host
        self.app: FastAPI = create_app(self.config, full_backend)
        self.registry: SessionRegistry = self.app.state.registry
        self._requested_port = port
        self._access_log = access_log
        self._log_level = log_level
        self._server: _EmbeddedServer | None = None
        self._task: asyncio.Task[None] | None = None
        self._port: int | None = None

    @property
    def port(self) -> int:
        """The bound port."""
        if self._port is None:
            raise RuntimeError("Emulator is not running")
        return self._port

    @property
    def base_url(self) -> str:
        """``http://host:port``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def __aenter__(self) -> Self:
        sock = _bind(self.host, self._requested_port)
        self._port = sock.getsockname()[1]
        uv_config = uvicorn.Config(
            self.app,
            ws="websockets-sansio",
            lifespan="off",
            access_log=self._access_log,
            log_config=None,
            log_level=self._log_level,
            # Never require client pongs (reference §3.1); leave room above max_packet_bytes
            # so the oversize policy, not the transport, decides what happens.
            ws_ping_interval=None,
            ws_ping_timeout=None,
            ws_max_size=max(16 * 1024 * 1024, 4 * self.config.max_packet_bytes),
            ws_per_message_deflate=False,
            timeout_graceful_shutdown=2,
            # Idle keep-alive as long as the load balancers real APIs sit behind (60 s and more),
            # not uvicorn's 5 s: equal to httpx's own 5 s pool expiry, the server closed idle
            # connections just as a client reused them, and a lost token answer is never retried.
            timeout_keep_alive=75,
        )
        self._server = _EmbeddedServer(uv_config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="emulator")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _STARTUP_TIMEOUT_S
        while not self._server.started:
            if self._task.done():
                sock.close()
                self._task.result()  # re-raise the startup failure
                raise RuntimeError("uvicorn exited during startup")
            if loop.time() > deadline:
                await self._stop()
                raise RuntimeError("emulator did not start in time")
            await asyncio.sleep(0.005)
        logger.info("LiveAvatar emulator listening on %s", self.base_url)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.registry.end_all("UNKNOWN", close_code=1001)
        await self._stop()

    async def _stop(self) -> None:
        server, task = self._server, self._task
        if server is None or task is None:
            return
        server.request_exit()
        try:
            await asyncio.wait_for(asyncio.shield(task), _SHUTDOWN_TIMEOUT_S)
        except TimeoutError:
            server.force_exit = True
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._server = self._task = None
        self._port = None
