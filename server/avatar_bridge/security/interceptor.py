"""Authenticate every call and check the role its method needs.

A grpc.aio server interceptor cannot see the peer's certificate, so it wraps each method's
handler: the wrapper reads the metadata and `context.auth_context()`, aborts with
UNAUTHENTICATED or PERMISSION_DENIED, or records the principal in a context variable the
service reads (`current_principal()`), then runs the method.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import grpc

from avatar_bridge import richerrors
from avatar_bridge.errors import PermissionDenied, Unauthenticated
from avatar_bridge.security.keys import EMPTY, AuthFile, AuthFileError, parse_auth_file
from avatar_bridge.security.principal import (
    CONVERSE,
    OPERATE,
    ROLES,
    Principal,
    set_current_principal,
)

log = logging.getLogger(__name__)

SERVICE = "/avatarbridge.v1.AvatarBridgeService/"
METHOD_ROLES = {
    SERVICE + "Converse": CONVERSE,
    SERVICE + "StopSession": OPERATE,
    SERVICE + "ListSessions": OPERATE,
}
"""The role each bridge method needs; any other method needs an authenticated caller."""
HEALTH_PREFIX = "/grpc.health.v1.Health/"
REFLECTION_PREFIX = "/grpc.reflection."

_NO_CREDENTIAL = (
    "missing or invalid credentials: send `authorization: Bearer <key>` or `x-api-key: <key>`"
)

Metadata = Sequence[tuple[str, str | bytes]]
if TYPE_CHECKING:
    Handler = grpc.RpcMethodHandler[Any, Any]
else:  # The runtime class is not generic.
    Handler = grpc.RpcMethodHandler
Guard = Callable[[grpc.aio.ServicerContext[Any, Any]], Awaitable[None]]


@dataclass(frozen=True)
class AuthPolicy:
    """What the interceptor requires."""

    auth_file: str = ""
    """Path of the TOML auth file (principals, key hashes, roles); empty: no API keys."""
    mtls: bool = False
    """Client certificates are verified by TLS; their CN/SAN names the principal."""
    open_health: bool = True
    """Health checks need no credential (load balancers, orchestrators)."""
    open_reflection: bool = True
    """Server reflection needs no credential (grpcurl without protos)."""

    @property
    def enabled(self) -> bool:
        return bool(self.auth_file) or self.mtls


class AuthState:
    """The current auth file, re-read when it changes (key rotation without a restart)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.file: AuthFile = EMPTY
        self._stamp: tuple[int, int, int] | None = None

    async def reload(self, *, force: bool = False) -> bool:
        """Re-read the file if it changed; a broken file is logged and the old one kept.

        Raises AuthFileError only on the first load, so a bad file stops the start-up.
        """
        if not self.path:
            return False
        first = self._stamp is None
        try:
            stamp, text = await asyncio.to_thread(_read, self.path)
            if stamp == self._stamp and not force:
                return False
            parsed = parse_auth_file(text)
        except (OSError, AuthFileError) as exc:
            if first:
                raise AuthFileError(f"cannot load auth file {self.path}: {exc}") from exc
            log.error("auth file not reloaded", extra={"path": self.path, "error": str(exc)})
            return False
        self.file, self._stamp = parsed, stamp
        if not first:
            log.info("auth file reloaded", extra={"principals": len(parsed.principals)})
        return True


def _read(path: str) -> tuple[tuple[int, int, int], str]:
    stat = os.stat(path)
    with open(path, encoding="utf-8") as f:
        return (stat.st_mtime_ns, stat.st_size, stat.st_ino), f.read()


class LogBudget:
    """A token bucket for log lines: `take()` returns how many lines were skipped since the
    last one it allowed, or None when this one must be skipped too."""

    def __init__(self, per_s: float, burst: int) -> None:
        self._per_s = per_s
        self._burst = float(burst)
        self._tokens = float(burst)
        self._last = time.monotonic()
        self._skipped = 0

    def take(self) -> int | None:
        now = time.monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._last) * self._per_s)
        self._last = now
        if self._tokens < 1.0:
            self._skipped += 1
            return None
        self._tokens -= 1.0
        skipped, self._skipped = self._skipped, 0
        return skipped


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Resolves the principal of each call and enforces METHOD_ROLES."""

    def __init__(self, policy: AuthPolicy, state: AuthState) -> None:
        self._policy = policy
        self._state = state
        self._refusals = LogBudget(per_s=1.0, burst=10)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = await continuation(handler_call_details)
        method: str = handler_call_details.method
        if handler is None or self._is_open(method):
            return handler
        metadata: Metadata = handler_call_details.invocation_metadata or ()

        async def guard(context: grpc.aio.ServicerContext[Any, Any]) -> None:
            principal = await self._authenticate(method, metadata, context)
            role = METHOD_ROLES.get(method)
            if role is not None and not principal.may(role):
                log.info(
                    "call refused: missing role",
                    extra={"principal": principal.name, "method": method, "role": role},
                )
                denied = PermissionDenied(
                    f"principal {principal.name!r} may not call {method.rsplit('/', 1)[-1]}: "
                    f"it needs the {role!r} role"
                )
                denied.metadata.update(role=role)
                await richerrors.abort(context, denied)
            set_current_principal(principal)

        return _guarded(handler, guard)

    def _is_open(self, method: str) -> bool:
        if not self._policy.enabled:
            return True
        if method.startswith(HEALTH_PREFIX):
            return self._policy.open_health
        if method.startswith(REFLECTION_PREFIX):
            return self._policy.open_reflection
        return False

    async def _authenticate(
        self, method: str, metadata: Metadata, context: grpc.aio.ServicerContext[Any, Any]
    ) -> Principal:
        key = _presented_key(metadata)
        principal: Principal | None = None
        if key:
            principal = self._state.file.principal_for_key(key)
        elif self._policy.mtls:
            principal = self._certificate_principal(context.auth_context())
        if principal is None:
            # Never the key, never which keys exist; bounded, so a key-guessing storm cannot
            # flood the log.
            suppressed = self._refusals.take()
            if suppressed is not None:
                log.info(
                    "call refused: unauthenticated",
                    extra={
                        "method": method,
                        "peer": context.peer(),
                        "had_key": bool(key),
                        "suppressed_since_last": suppressed,
                    },
                )
            await richerrors.abort(context, Unauthenticated(_NO_CREDENTIAL))
        assert principal is not None
        return principal

    def _certificate_principal(self, auth: Mapping[str, Iterable[bytes]]) -> Principal | None:
        names = [
            v.decode(errors="replace")
            for k in ("x509_common_name", "x509_subject_alternative_name")
            for v in auth.get(k, [])
        ]
        if not names:
            return None
        known = self._state.file.principals
        for name in names:
            if name in known:
                return Principal(name, known[name].roles, known[name].quota, via="mtls")
        if self._state.path:
            # A certificate the CA signed, for a principal the auth file does not list: no roles.
            return Principal(names[0], frozenset(), via="mtls")
        return Principal(names[0], ROLES, via="mtls")


def _presented_key(metadata: Metadata) -> str:
    for name, value in metadata:
        text = value.decode(errors="replace") if isinstance(value, bytes) else value
        if name == "authorization" and text[:7].lower() == "bearer ":
            return text[7:].strip()
        if name == "x-api-key":
            return text.strip()
    return ""


def _guarded(handler: Handler, guard: Guard) -> Handler:
    """The same handler with `guard(context)` run first."""
    kinds = (
        ("unary_unary", grpc.unary_unary_rpc_method_handler),
        ("unary_stream", grpc.unary_stream_rpc_method_handler),
        ("stream_unary", grpc.stream_unary_rpc_method_handler),
        ("stream_stream", grpc.stream_stream_rpc_method_handler),
    )
    for attr, make in kinds:
        inner = getattr(handler, attr)
        if inner is not None:
            wrapped = _wrap_behavior(inner, guard)
            rebuilt: Handler = make(
                wrapped,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
            return rebuilt
    return handler


def _wrap_behavior(inner: Callable[..., Any], guard: Guard) -> Callable[..., Any]:
    if inspect.isasyncgenfunction(inner):

        async def stream(request: Any, context: Any) -> AsyncIterator[Any]:
            await guard(context)
            async for response in inner(request, context):
                yield response

        return stream

    async def call(request: Any, context: Any) -> Any:
        await guard(context)
        result = inner(request, context)
        return await result if inspect.isawaitable(result) else result

    return call
