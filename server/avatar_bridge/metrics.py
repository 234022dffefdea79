"""Prometheus metrics: one registry per server, served on its own port when configured.

Cost per conversation is a few counter updates at its start and end; nothing is labelled per
session (labels are mode, reason, method and code: small fixed sets). The HTTP endpoint runs in
prometheus-client's own thread, so a scrape never touches the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from avatar_bridge.lag import LagMonitor

NAMESPACE = "avatarbridge"


class BridgeMetrics:
    """Every metric the bridge exports, on a registry of its own (many servers per test run)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        reg = self.registry
        self.conversations = Gauge(
            "conversations",
            "Conversations by mode and state (starting: admitted, no session yet; live).",
            ["mode", "state"],
            namespace=NAMESPACE,
            registry=reg,
        )
        self.starts = Counter(
            "conversation_starts",
            "Conversations that reached session_started, by mode.",
            ["mode"],
            namespace=NAMESPACE,
            registry=reg,
        )
        self.stops = Counter(
            "conversation_stops",
            "Conversations ended, by StopReason.",
            ["reason"],
            namespace=NAMESPACE,
            registry=reg,
        )
        self.refusals = Counter(
            "admission_refusals",
            "Converse calls refused before a session was created, by error reason.",
            ["reason"],
            namespace=NAMESPACE,
            registry=reg,
        )
        self.rpcs = Counter(
            "rpcs",
            "AvatarBridgeService calls ended, by method and status code.",
            ["method", "code"],
            namespace=NAMESPACE,
            registry=reg,
        )
        self.audio_in = Counter(
            "audio_in_bytes",
            "Client audio bytes received (added when each conversation ends).",
            namespace=NAMESPACE,
            registry=reg,
        )
        self.audio_out = Counter(
            "audio_out_bytes",
            "24 kHz PCM16 bytes sent upstream (added when each conversation ends).",
            namespace=NAMESPACE,
            registry=reg,
        )
        self.packets = Counter(
            "packets_out",
            "LITE agent.speak packets and FULL microphone frames sent upstream.",
            namespace=NAMESPACE,
            registry=reg,
        )
        self.dropped = Counter(
            "audio_dropped_bytes",
            "Client audio reported dropped (AudioDropped), in input-format bytes, by reason.",
            ["reason"],
            namespace=NAMESPACE,
            registry=reg,
        )
        self.reconnects = Counter(
            "upstream_reconnects",
            "Upstream connections re-established (LITE WebSocket, FULL room).",
            namespace=NAMESPACE,
            registry=reg,
        )
        self.requests = Counter(
            "requests",
            "Converse requests after the config (added when each conversation ends).",
            namespace=NAMESPACE,
            registry=reg,
        )
        self.rest_seconds = Histogram(
            "upstream_rest_seconds",
            "LiveAvatar REST attempt latency, by endpoint (every attempt, retries included).",
            ["endpoint"],
            namespace=NAMESPACE,
            registry=reg,
            buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
        )
        self.rest_errors = Counter(
            "upstream_rest_errors",
            "LiveAvatar REST attempts that failed, by endpoint and error kind.",
            ["endpoint", "kind"],
            namespace=NAMESPACE,
            registry=reg,
        )
        self.quota_store_up = Gauge(
            "quota_store_up",
            "1 while the shared quota store (Redis) answers; 0: quotas fall back per process "
            "(or refuse, --quota-fail-closed). 1 without --redis-url: nothing to reach.",
            namespace=NAMESPACE,
            registry=reg,
        )
        self.quota_store_up.set(1)
        self.lag = LagMonitor()
        Gauge(
            "event_loop_lag_seconds",
            "Smoothed lateness of the event loop (sampled by a timer callback).",
            namespace=NAMESPACE,
            registry=reg,
        ).set_function(lambda: self.lag.smoothed_s)
        self._http: Any = None

    def observe_rest(self, endpoint: str, seconds: float, outcome: str) -> None:
        """LiveAvatarClient's observer: one call per REST attempt."""
        self.rest_seconds.labels(endpoint).observe(seconds)
        if outcome != "ok":
            self.rest_errors.labels(endpoint, outcome).inc()

    def serve(self, listen: str) -> int:
        """Serve /metrics on host:port (port 0 picks one); returns the bound port."""
        host, _, port = listen.rpartition(":")
        server, _thread = start_http_server(
            int(port), addr=host.strip("[]"), registry=self.registry
        )
        self._http = server
        self.lag.start()
        bound: int = server.server_address[1]
        return bound

    def close(self) -> None:
        self.lag.stop()
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None


class RpcCounter(grpc.aio.ServerInterceptor):
    """Counts every AvatarBridgeService call by method and final status code."""

    def __init__(self, metrics: BridgeMetrics, service: str) -> None:
        self._metrics = metrics
        self._prefix = f"/{service}/"

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]
        ],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(details)
        name: str = details.method
        if handler is None or not name.startswith(self._prefix):
            return handler
        method = name.removeprefix(self._prefix)
        rpcs = self._metrics.rpcs
        # Every method of the service is a coroutine using context (no async generators).
        for kind in ("unary_unary", "stream_stream"):
            behaviour = getattr(handler, kind)
            if behaviour is not None:
                return handler._replace(**{kind: _counted(behaviour, method, rpcs)})  # type: ignore[attr-defined,no-any-return]
        return handler


def _counted(behaviour: Any, method: str, rpcs: Counter) -> Any:
    async def counted(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        code = grpc.StatusCode.UNKNOWN
        try:
            result = await behaviour(request, context)
            code = context.code() or grpc.StatusCode.OK
            return result
        except grpc.aio.AbortError:
            code = context.code() or grpc.StatusCode.UNKNOWN
            raise
        except BaseException as exc:
            code = context.code() or _code_of(exc)
            raise
        finally:
            rpcs.labels(method, _name(code)).inc()

    return counted


def _code_of(exc: BaseException) -> grpc.StatusCode:
    return (
        grpc.StatusCode.CANCELLED
        if isinstance(exc, asyncio.CancelledError)
        else grpc.StatusCode.UNKNOWN
    )


def _name(code: Any) -> str:
    if isinstance(code, grpc.StatusCode):
        return code.name
    return str(code)
