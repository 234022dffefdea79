"""The server process: grpc.aio with health, reflection and graceful shutdown.

Shutdown (SIGTERM or SIGINT, or `BridgeServer.stop()`): health turns NOT_SERVING, new
conversations are refused, every live conversation receives SessionStopped(SERVER_SHUTDOWN),
every upstream session this process created is stopped, and the process exits within the grace
period.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import signal
import time

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from avatar_bridge.admission import grpc_queue_options
from avatar_bridge.config import ServerConfig
from avatar_bridge.journal import open_journal
from avatar_bridge.liveavatar.rest import LiveAvatarClient, RestConfig
from avatar_bridge.logs import scrubber
from avatar_bridge.registry import SessionRegistry, Timing
from avatar_bridge.service import AvatarBridgeService, LegFactory
from avatar_bridge.wire import add_service
from avatarbridge.v1 import avatar_bridge_pb2 as pb

log = logging.getLogger(__name__)

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["AvatarBridgeService"].full_name


class BridgeServer:
    """One running bridge. `await start()` returns the bound port; `await stop()` shuts down."""

    def __init__(
        self,
        config: ServerConfig,
        *,
        full_leg: LegFactory | None = None,
        rest_config: RestConfig | None = None,
        timing: Timing | None = None,
    ) -> None:
        """`rest_config` and `timing` override the REST client and registry (tests, embedders)."""
        self.config = config
        self._rest_config = rest_config
        self._timing = timing
        self._full_leg = full_leg
        self._server: grpc.aio.Server | None = None
        self._rest: LiveAvatarClient | None = None
        self._health = health.aio.HealthServicer()
        self.registry: SessionRegistry | None = None
        self.service: AvatarBridgeService | None = None
        self.port = 0
        self._stopped = asyncio.Event()

    async def start(self) -> int:
        config = self.config
        scrubber.add(config.api_key)
        rest_config = self._rest_config or RestConfig(
            api_key=config.api_key, base_url=config.api_url
        )
        self._rest = LiveAvatarClient(rest_config)
        journal = open_journal(
            state_dir=config.state_dir,
            redis_url=config.redis_url,
            replica_id=config.replica_id,
            lease_s=config.lease_s,
        )
        self.registry = SessionRegistry(
            self._rest, journal, self._timing or Timing(token_wait_s=rest_config.timeout_s)
        )
        # Recovery: sessions a crashed run (or a dead replica) left are stopped in the background.
        await self.registry.open()
        self.service = AvatarBridgeService(
            config, self._rest, self.registry, full_leg=self._full_leg
        )
        limits = config.limits
        self._server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", limits.max_message_bytes),
                ("grpc.max_send_message_length", 4 * 1024 * 1024),
                ("grpc.keepalive_time_ms", 30_000),
                ("grpc.keepalive_timeout_ms", 10_000),
                ("grpc.http2.min_recv_ping_interval_without_data_ms", 10_000),
                ("grpc.keepalive_permit_without_calls", 1),
                ("grpc.so_reuseport", 0),
                *grpc_queue_options(limits.max_sessions, limits.max_pending_configs),
            ],
        )
        # Not the generated add_..._to_server: Converse needs a decoder that never raises.
        add_service(self.service, self._server)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
        reflection.enable_server_reflection(
            (SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), self._server
        )
        self.port = self._server.add_insecure_port(config.listen)
        if not self.port:
            raise SystemExit(f"avatar-bridge: cannot listen on {config.listen}")
        await self._server.start()
        for name in ("", SERVICE_NAME):
            await self._health.set(name, health_pb2.HealthCheckResponse.SERVING)
        log.info(
            "avatar-bridge listening",
            extra={
                "listen": config.listen,
                "port": self.port,
                "api_url": config.api_url,
                "max_sessions": limits.max_sessions,
            },
        )
        return self.port

    async def stop(self, grace_s: float | None = None) -> None:
        """Graceful shutdown; idempotent."""
        if self._stopped.is_set() or self._server is None:
            return
        self._stopped.set()
        grace = self.config.shutdown_grace_s if grace_s is None else grace_s
        deadline = time.monotonic() + grace
        assert self.registry is not None and self.service is not None
        log.info(
            "shutting down",
            extra={"grace_s": grace, "conversations": self.registry.conversation_count},
        )
        await self._health.enter_graceful_shutdown()
        self.service.begin_shutdown()
        self.registry.stop_all(pb.STOP_REASON_SERVER_SHUTDOWN, "the bridge is shutting down")
        # Conversations write SessionStopped and stop their upstream sessions themselves.
        await self.registry.wait_conversations(max(0.0, (deadline - time.monotonic()) * 0.6))
        left = await self.registry.stop_everything(max(0.5, (deadline - time.monotonic()) * 0.8))
        await self._server.stop(max(0.0, deadline - time.monotonic()))
        await self.registry.close()
        if self._rest is not None:
            await self._rest.aclose()
        log.info(
            "shut down",
            extra={"sessions_stopped": self.registry.stopped_count, "sessions_left": len(left)},
        )

    async def wait_for_termination(self) -> None:
        await self._stopped.wait()


async def serve(config: ServerConfig, *, extra: contextlib.AsyncExitStack | None = None) -> None:
    """Run until SIGTERM or SIGINT, then shut down gracefully."""
    async with contextlib.AsyncExitStack() as stack:
        if extra is not None:
            await stack.enter_async_context(extra)
        server = BridgeServer(config, full_leg=_full_leg_factory())
        await server.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        log.info("signal received")
        await server.stop()


def _full_leg_factory() -> LegFactory | None:
    """The FULL leg, when its module is installed (it needs the livekit SDK)."""
    try:
        module = importlib.import_module("avatar_bridge.full.leg")
    except ImportError:
        return None
    factory: LegFactory = module.connect_full_leg
    return factory
