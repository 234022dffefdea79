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
import os
import signal
import threading
import time

import grpc
from grpc_health.v1 import health, health_pb2_grpc

from avatar_bridge import gcpolicy
from avatar_bridge.admission import ShedWhenOverloaded, grpc_queue_options
from avatar_bridge.config import ServerConfig
from avatar_bridge.health import SERVING, DrainingHealth
from avatar_bridge.journal import open_journal
from avatar_bridge.lag import LagMonitor, LagPolicy
from avatar_bridge.leg import LegFactory
from avatar_bridge.liveavatar.rest import LiveAvatarClient, RestConfig
from avatar_bridge.logs import scrubber
from avatar_bridge.memtrim import MemoryTrimmer
from avatar_bridge.metrics import BridgeMetrics, RpcCounter
from avatar_bridge.reflection_v1 import enable_reflection
from avatar_bridge.registry import SessionRegistry, Timing
from avatar_bridge.security.allowlist import for_server
from avatar_bridge.security.interceptor import AuthInterceptor, AuthPolicy, AuthState
from avatar_bridge.security.keys import AuthFileError
from avatar_bridge.security.principal import Quota
from avatar_bridge.security.quota_store import FleetQuotas, RedisQuotaStore
from avatar_bridge.security.quotas import QuotaPolicy
from avatar_bridge.security.tls import ReloadingTlsCredentials, TlsFileError, TlsFiles
from avatar_bridge.service import AvatarBridgeService
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
        self._health = DrainingHealth()
        self.registry: SessionRegistry | None = None
        self.service: AvatarBridgeService | None = None
        self.port = 0
        self._stopped = asyncio.Event()
        security = config.security
        self.auth = AuthState(security.auth_file)
        self.tls: ReloadingTlsCredentials | None = None
        self._reloader: asyncio.Task[None] | None = None
        self._reload_now = asyncio.Event()
        self._trimmer = MemoryTrimmer()
        self._shedding: LagMonitor | None = None
        self._fleet_quotas: FleetQuotas | None = None
        self.metrics = BridgeMetrics()
        self.metrics_port = 0
        """Port of /metrics when --metrics-listen is set, else 0."""

    async def start(self) -> int:
        config = self.config
        scrubber.add(config.api_key)
        security = config.security
        try:
            await self.auth.reload()
            if security.tls:
                files = TlsFiles(
                    security.tls_cert_file, security.tls_key_file, security.tls_client_ca_file
                )
                self.tls = await ReloadingTlsCredentials.load(files)
        except (AuthFileError, TlsFileError) as exc:
            raise SystemExit(f"avatar-bridge: {exc}") from exc
        rest_config = self._rest_config or RestConfig(
            api_key=config.api_key, base_url=config.api_url
        )
        self._rest = LiveAvatarClient(rest_config, observer=self.metrics.observe_rest)
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
        default_quotas = QuotaPolicy(
            Quota(security.quota_conversations, security.quota_starts_per_minute)
        )
        if config.redis_url:
            # Quotas fleet-wide in the same Redis as the journal; its lease for the quota leases.
            self._fleet_quotas = FleetQuotas(
                RedisQuotaStore(config.redis_url, lease_s=config.lease_s),
                default_quotas,
                fail_closed=security.quota_fail_closed,
                on_state=lambda up: self.metrics.quota_store_up.set(int(up)),
            )
        self.service = AvatarBridgeService(
            config,
            self._rest,
            self.registry,
            full_leg=self._full_leg,
            quotas=default_quotas,  # Counted in process unless fleet quotas take over.
            fleet_quotas=self._fleet_quotas,
            allowlist=for_server(
                security.attach_allow, config.api_url, security.attach_allow_extra
            ),
            metrics=self.metrics,
        )
        policy = AuthPolicy(
            auth_file=security.auth_file,
            mtls=bool(security.tls_client_ca_file),
            open_health=security.open_health,
            open_reflection=security.open_reflection,
        )
        limits = config.limits
        self._server = grpc.aio.server(
            interceptors=[
                AuthInterceptor(policy, self.auth),
                RpcCounter(self.metrics, SERVICE_NAME),
            ],
            options=grpc_server_options(config),
        )
        # Not the generated add_..._to_server: Converse needs a decoder that never raises.
        add_service(self.service, self._server)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
        enable_reflection((SERVICE_NAME, health.SERVICE_NAME), self._server)
        try:
            if self.tls is not None:
                self.port = self._server.add_secure_port(
                    config.listen, self.tls.server_credentials()
                )
            else:
                self.port = self._server.add_insecure_port(config.listen)
        except RuntimeError:  # grpc says only "Failed to bind"; in use is by far the usual cause
            self.port = 0
        if not self.port:
            raise SystemExit(
                f"avatar-bridge: cannot listen on {config.listen}: the port is in use (another "
                "`make run`?) or the address is not local. Stop the other server, or pick "
                "another address with --listen or AVATAR_BRIDGE_LISTEN."
            )
        await self._server.start()
        if config.metrics_listen:
            self.metrics_port = self.metrics.serve(config.metrics_listen)
            log.info("metrics served", extra={"port": self.metrics_port})
        self._reloader = asyncio.create_task(self._reload_loop(), name="security-reload")
        self._trimmer.start()
        if config.limits.shed_lag_ms:
            # Overload is refused, not shared: past the lag bound new calls get UNAVAILABLE.
            self._shedding = LagMonitor(LagPolicy(threshold_s=config.limits.shed_lag_ms / 1000))
            self._shedding.start()
            self.service.admission.add_policy(ShedWhenOverloaded(self._shedding))
        for name in ("", SERVICE_NAME):
            await self._health.set(name, SERVING)
        log.info(
            "avatar-bridge listening",
            extra={
                "listen": config.listen,
                "port": self.port,
                "api_url": config.api_url,
                "upstream": "embedded emulator" if config.uses_emulator else "LiveAvatar",
                "transport": security.transport,
                "authentication": _auth_mode(policy),
                "max_sessions": limits.max_sessions,
            },
        )
        if not policy.enabled and not _is_loopback(config.listen):
            log.warning(
                "no caller authentication on a non-loopback address: anyone who reaches the "
                "port can spend the LiveAvatar account; set --auth-file or --tls-client-ca",
                extra={"listen": config.listen},
            )
        return self.port

    def request_reload(self) -> None:
        """Re-read certificates and the auth file now (SIGHUP)."""
        self._reload_now.set()

    async def reload(self) -> None:
        """Pick up changed certificate and auth files; keep the old ones if the new are broken."""
        if self.tls is not None:
            await self.tls.reload()
        await self.auth.reload()

    async def _reload_loop(self) -> None:
        interval = self.config.security.reload_interval_s
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._reload_now.wait(), interval)
            self._reload_now.clear()
            try:
                await self.reload()
            except Exception:
                log.exception("security reload failed")

    async def stop(self, grace_s: float | None = None, drain_s: float | None = None) -> None:
        """Graceful shutdown; idempotent.

        Health turns NOT_SERVING and new conversations are refused at once; live ones go on for
        up to `drain_s` (the port keeps serving them), then get SERVER_SHUTDOWN, and everything
        ends within `grace_s` after that.
        """
        if self._stopped.is_set() or self._server is None:
            return
        self._stopped.set()
        grace = self.config.shutdown_grace_s if grace_s is None else grace_s
        drain = self.config.drain_s if drain_s is None else drain_s
        assert self.registry is not None and self.service is not None
        log.info(
            "shutting down",
            extra={
                "grace_s": grace,
                "drain_s": drain,
                "conversations": self.registry.conversation_count,
            },
        )
        # Refuse first, then announce: a client that sees NOT_SERVING and calls once more must
        # be refused, never admitted in the gap while the health update is being sent.
        self.service.begin_shutdown()
        await self._health.enter_graceful_shutdown()
        if self._reloader is not None:
            self._reloader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reloader
        if drain > 0 and self.service.live_calls:
            drained = await self.service.wait_calls(drain)
            log.info(
                "drain over", extra={"all_ended": drained, "conversations": self.service.live_calls}
            )
        deadline = time.monotonic() + grace
        self.registry.stop_all(pb.STOP_REASON_SERVER_SHUTDOWN, "the bridge is shutting down")
        # Conversations write SessionStopped and stop their upstream sessions themselves.
        await self.registry.wait_conversations(max(0.0, (deadline - time.monotonic()) * 0.6))
        left = await self.registry.stop_everything(max(0.5, (deadline - time.monotonic()) * 0.8))
        self._health.close()  # Watch streams end now rather than at the grace's end.
        await self._server.stop(max(0.0, deadline - time.monotonic()))
        await self._trimmer.stop()
        if self._shedding is not None:
            self._shedding.stop()
        self.metrics.close()
        if self._fleet_quotas is not None:
            await self._fleet_quotas.close()
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
        # Handlers before start: a SIGTERM just after "listening" (a supervisor's parent dying,
        # systemd stopping a unit that just started) must drain, not kill the process outright.
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        loop.add_signal_handler(signal.SIGHUP, server.request_reload)
        await server.start()
        gcpolicy.freeze_startup_heap()  # After start: every module and descriptor is loaded.
        await stop.wait()
        log.info("signal received")
        _exit_watchdog(config.drain_s + config.shutdown_grace_s + EXIT_MARGIN_S)
        await server.stop()


EXIT_MARGIN_S = 5.0
"""Past drain + grace + this, the process exits even if something still holds it."""


def _exit_watchdog(after_s: float) -> None:
    """Exit hard after `after_s` even if the event loop is stuck: the exit bound always holds."""

    def expire() -> None:
        log.error("shutdown overran drain + grace: exiting now", extra={"after_s": after_s})
        os._exit(1)

    timer = threading.Timer(after_s, expire)
    timer.daemon = True
    timer.start()


def _auth_mode(policy: AuthPolicy) -> str:
    modes = [name for on, name in ((policy.auth_file, "api-key"), (policy.mtls, "mtls")) if on]
    return "+".join(modes) or "none"


def _is_loopback(listen: str) -> bool:
    host = listen.rsplit(":", 1)[0].strip("[]")
    return host in ("localhost", "127.0.0.1", "::1") or host.startswith("127.")


def _full_leg_factory() -> LegFactory | None:
    """The FULL leg, when its module is installed (it needs the livekit SDK)."""
    try:
        module = importlib.import_module("avatar_bridge.full.leg")
    except ImportError:
        return None
    factory: LegFactory = module.connect_full_leg
    return factory


def grpc_server_options(config: ServerConfig) -> list[tuple[str, int]]:
    """The grpc.aio server's channel arguments for `config` (benchmarks.floor serves under the
    same ones)."""
    limits = config.limits
    return [
        ("grpc.max_receive_message_length", limits.max_message_bytes),
        ("grpc.max_send_message_length", 4 * 1024 * 1024),
        ("grpc.keepalive_time_ms", 30_000),
        ("grpc.keepalive_timeout_ms", 10_000),
        ("grpc.http2.min_recv_ping_interval_without_data_ms", 10_000),
        ("grpc.keepalive_permit_without_calls", 1),
        # Several `--workers` share the port; a lone bridge must fail on a taken port.
        ("grpc.so_reuseport", int(config.reuse_port)),
        # GOAWAY old connections so L7 balancers rebalance; the grace outlives a session,
        # so no conversation is cut by it.
        ("grpc.max_connection_age_ms", int(config.max_connection_age_s * 1000)),
        ("grpc.max_connection_age_grace_ms", int(config.max_connection_age_grace_s * 1000)),
        # Keep each stream's receive window at gRPC's 64 KiB: BDP probing grew it to
        # megabytes per fast client, audio the bridge then held (issue 7, bounded memory).
        ("grpc.http2.bdp_probe", 0),
        *grpc_queue_options(limits.max_sessions, limits.max_pending_configs),
    ]
