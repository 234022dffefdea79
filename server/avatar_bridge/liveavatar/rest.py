"""Async client for LiveAvatar's REST API: token, start, stop, keep-alive, list and get sessions.

Every answer comes in the `{code, data, message}` envelope with success code 1000. The token call
authenticates with the account's API key (`X-API-KEY`); start authenticates with the session token
(`Authorization: Bearer`); everything else here uses the API key, which lets the bridge stop any
session by id. Retries with exponential backoff happen only on timeouts, connection errors and
5xx answers; a 4xx is mapped once to an `UpstreamRejected` with LiveAvatar's own message.

Token and start create (and bill) a session, so they are retried only when the request surely
never reached LiveAvatar (no connection, or a 5xx answer, which is an answer). A timeout or a
dropped connection after sending raises `UpstreamOutcomeUnknown` and is never retried: a blind
retry would create a second session and leak the first.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from avatar_bridge import tracing
from avatar_bridge.errors import (
    BridgeError,
    UpstreamOutcomeUnknown,
    UpstreamProtocolError,
    UpstreamRejected,
    UpstreamUnavailable,
)

log = logging.getLogger(__name__)

SUCCESS_CODE = 1000
DEFAULT_API_URL = "https://api.liveavatar.com"


@dataclass(frozen=True)
class RestConfig:
    """How to reach LiveAvatar's REST API."""

    api_key: str = field(repr=False)
    """The account's API key. Never logged (excluded from repr)."""
    base_url: str = DEFAULT_API_URL
    """Base URL without the /v1 prefix."""
    timeout_s: float = 10.0
    """Per-attempt timeout for connect, read and write."""
    attempts: int = 3
    """Attempts per call, counting the first, for retryable failures."""
    backoff_initial_s: float = 0.5
    """Sleep before the second attempt; doubles each attempt, with jitter."""
    backoff_max_s: float = 4.0
    """Upper bound of one backoff sleep."""
    max_connections: int = 1000
    """Connection pool size. Generous: at shutdown every session's stop runs at once, and a
    stop must not queue behind openings while LiveAvatar is slow (httpx's default is 100)."""


@dataclass(frozen=True)
class SessionToken:
    """Answer of POST /v1/sessions/token."""

    session_id: str
    session_token: str = field(repr=False)


@dataclass(frozen=True)
class StartedSession:
    """Answer of POST /v1/sessions/start. Tokens and ws_url are secrets (excluded from repr)."""

    session_id: str
    livekit_url: str = ""
    livekit_client_token: str = field(default="", repr=False)
    livekit_agent_token: str = field(default="", repr=False)
    max_session_duration: int = 0
    ws_url: str = field(default="", repr=False)


@dataclass(frozen=True)
class SessionPage:
    """One page of GET /v1/sessions."""

    count: int
    results: list[dict[str, Any]]
    next: str | None
    previous: str | None


class _Retryable(Exception):
    """Internal: an attempt failed in a way worth retrying."""


class LiveAvatarClient:
    """LiveAvatar REST client. Use as an async context manager, or call `aclose()`.

    `transport` lets tests and embedders plug an httpx transport in (httpx.MockTransport, an ASGI
    transport); by default it is a real HTTP connection pool.
    """

    def __init__(
        self,
        config: RestConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        observer: RestObserver | None = None,
    ) -> None:
        self._config = config
        self._observer = observer
        self._http = httpx.AsyncClient(
            base_url=config.base_url.rstrip("/"),
            timeout=config.timeout_s,
            transport=transport,
            headers={"accept": "application/json"},
            limits=httpx.Limits(
                max_connections=config.max_connections, max_keepalive_connections=100
            ),
        )

    async def __aenter__(self) -> LiveAvatarClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # Public API, one method per endpoint.

    async def create_token(
        self, body: dict[str, Any], *, answer_wait_s: float | None = None
    ) -> SessionToken:
        """POST /v1/sessions/token with the API key. `body` is LiveAvatar's token request.

        `answer_wait_s` replaces the read timeout: a caller that can stop a late session waits
        longer for the answer than a client would (see SessionRegistry).
        """
        data = await self._call(
            "POST",
            "/v1/sessions/token",
            json=body,
            auth=self._api_key(),
            idempotent=False,
            read_timeout_s=answer_wait_s,
        )
        try:
            return SessionToken(str(data["session_id"]), str(data["session_token"]))
        except (KeyError, TypeError) as exc:
            raise UpstreamProtocolError(
                "LiveAvatar token answer lacks session_id or session_token"
            ) from exc

    async def start_session(self, token: SessionToken) -> StartedSession:
        """POST /v1/sessions/start with the session token as Bearer."""
        data = await self._call(
            "POST",
            "/v1/sessions/start",
            json={"session_id": token.session_id},
            auth={"authorization": f"Bearer {token.session_token}"},
            idempotent=False,
        )
        if not isinstance(data, dict) or "session_id" not in data:
            raise UpstreamProtocolError("LiveAvatar start answer lacks session_id")
        return StartedSession(
            session_id=str(data["session_id"]),
            livekit_url=str(data.get("livekit_url") or ""),
            livekit_client_token=str(data.get("livekit_client_token") or ""),
            livekit_agent_token=str(data.get("livekit_agent_token") or ""),
            max_session_duration=int(data.get("max_session_duration") or 0),
            ws_url=str(data.get("ws_url") or ""),
        )

    async def stop_session(self, session_id: str, reason: str = "USER_CLOSED") -> None:
        """POST /v1/sessions/stop with the API key, naming the session and the end reason."""
        await self._call(
            "POST",
            "/v1/sessions/stop",
            json={"session_id": session_id, "reason": reason},
            auth=self._api_key(),
        )

    async def keep_alive(self, session_id: str) -> None:
        """POST /v1/sessions/keep-alive with the API key."""
        await self._call(
            "POST", "/v1/sessions/keep-alive", json={"session_id": session_id}, auth=self._api_key()
        )

    async def list_sessions(
        self, *, kind: str = "active", page: int = 1, page_size: int = 20
    ) -> SessionPage:
        """GET /v1/sessions?type=active|historic."""
        data = await self._call(
            "GET",
            "/v1/sessions",
            params={"type": kind, "page": page, "page_size": page_size},
            auth=self._api_key(),
        )
        if not isinstance(data, dict) or not isinstance(data.get("results"), list):
            raise UpstreamProtocolError("LiveAvatar session list lacks results")
        return SessionPage(
            count=int(data.get("count") or 0),
            results=list(data["results"]),
            next=data.get("next"),
            previous=data.get("previous"),
        )

    async def get_session(self, session_id: str) -> dict[str, Any]:
        """GET /v1/sessions/{id}: the active or historic entry (historic has end_reason)."""
        data = await self._call("GET", f"/v1/sessions/{session_id}", auth=self._api_key())
        if not isinstance(data, dict):
            raise UpstreamProtocolError("LiveAvatar session entry is not an object")
        return data

    # Private methods.

    def _api_key(self) -> dict[str, str]:
        return {"x-api-key": self._config.api_key}

    async def _call(
        self,
        method: str,
        path: str,
        *,
        auth: dict[str, str],
        json: Any = None,
        params: dict[str, Any] | None = None,
        idempotent: bool = True,
        read_timeout_s: float | None = None,
    ) -> Any:
        """Send one logical call with retries; return the envelope's `data`.

        A call that is not idempotent (token and start: they create and bill) is not retried
        once the request may have reached LiveAvatar (a read or write timeout, a connection
        dropped after sending): a second token would create a second session, a second start
        would fail as "already started" and lose the first answer.
        """
        what = f"{method} /v1/sessions{_endpoint_tail(path)}"
        delay = self._config.backoff_initial_s
        last: str = ""
        for attempt in range(1, self._config.attempts + 1):
            try:
                return await self._observed(
                    what,
                    self._attempt(
                        method,
                        path,
                        auth=auth,
                        json=json,
                        params=params,
                        idempotent=idempotent,
                        read_timeout_s=read_timeout_s,
                    ),
                )
            except _Retryable as exc:
                last = str(exc)
                if attempt == self._config.attempts:
                    break
                log.warning(
                    "liveavatar call failed, retrying",
                    extra={"call": what, "attempt": attempt, "error": last},
                )
                # Jitter first, then cap: backoff_max_s is a hard upper bound.
                await asyncio.sleep(
                    min(delay * random.uniform(0.8, 1.2), self._config.backoff_max_s)
                )
                delay *= 2
        raise UpstreamUnavailable(
            f"LiveAvatar {what} failed after {self._config.attempts} attempts: {last}"
        )

    async def _observed(self, what: str, attempt: Awaitable[Any]) -> Any:
        """Await one attempt in a span; report its latency and outcome (metrics) when observed."""
        began = time.monotonic()
        kind = "ok"
        with tracing.span(f"LiveAvatar {what}") as current:
            try:
                return await attempt
            except BaseException as exc:
                kind = _outcome_kind(exc)
                raise
            finally:
                if current is not None:
                    current.set_attribute("outcome", kind)
                if self._observer is not None:
                    self._observer(what, time.monotonic() - began, kind)

    async def _attempt(
        self,
        method: str,
        path: str,
        *,
        auth: dict[str, str],
        json: Any,
        params: dict[str, Any] | None,
        idempotent: bool,
        read_timeout_s: float | None = None,
    ) -> Any:
        timeout = httpx.Timeout(
            self._config.timeout_s, read=read_timeout_s or self._config.timeout_s
        )
        try:
            response = await self._http.request(
                method, path, json=json, params=params, headers=auth, timeout=timeout
            )
        except (httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ConnectError) as exc:
            # Never sent: safe to retry even a call that creates.
            what = "timed out" if isinstance(exc, httpx.TimeoutException) else "connection error"
            raise _Retryable(f"{what} ({type(exc).__name__}: {exc})") from exc
        except httpx.TransportError as exc:
            if not idempotent:
                raise UpstreamOutcomeUnknown(
                    f"LiveAvatar {method} {path} got no answer after the request was sent "
                    f"({type(exc).__name__}); not retried because it is not idempotent"
                ) from exc
            if isinstance(exc, httpx.TimeoutException):
                raise _Retryable(f"timed out ({type(exc).__name__})") from exc
            # The exception text may include the URL but never headers, so no secret leaks.
            raise _Retryable(f"connection error ({type(exc).__name__}: {exc})") from exc
        except httpx.DecodingError as exc:  # Answered, but the body breaks its content-encoding.
            raise UpstreamProtocolError(
                f"LiveAvatar answered {method} {path} with a body that could not be decoded ({exc})"
            ) from exc
        if response.status_code >= 500:
            raise _Retryable(f"HTTP {response.status_code}: {_upstream_message(response)}")
        if response.status_code >= 400:
            upstream_message = _upstream_message(response)
            raise UpstreamRejected(
                f"LiveAvatar rejected {method} {path} with HTTP {response.status_code}: "
                f"{upstream_message}",
                http_status=response.status_code,
                upstream_code=_upstream_code(response),
                upstream_message=upstream_message,
            )
        try:
            envelope = response.json()
        except ValueError as exc:
            raise UpstreamProtocolError(
                f"LiveAvatar answered {method} {path} with a body that is not JSON"
            ) from exc
        if not isinstance(envelope, dict) or envelope.get("code") != SUCCESS_CODE:
            code = envelope.get("code") if isinstance(envelope, dict) else None
            upstream_message = _upstream_message(response)
            raise UpstreamRejected(
                f"LiveAvatar answered {method} {path} with code {code}, not {SUCCESS_CODE}: "
                f"{upstream_message}",
                http_status=response.status_code,
                upstream_code=code if isinstance(code, int) else None,
                upstream_message=upstream_message,
            )
        return envelope.get("data")


RestObserver = Callable[[str, float, str], None]
"""Called after each attempt with (endpoint, seconds, outcome: "ok" or an error kind)."""


def _outcome_kind(exc: BaseException) -> str:
    if isinstance(exc, _Retryable):
        return "unavailable"
    if isinstance(exc, BridgeError):
        return exc.reason.lower()
    if isinstance(exc, asyncio.CancelledError):
        return "cancelled"
    return "internal"


def _endpoint_tail(path: str) -> str:
    """Name an endpoint without the session id, for logs."""
    tail = path.split("/sessions", 1)[1] if "/sessions" in path else path
    return tail if tail in {"", "/token", "/start", "/stop", "/keep-alive"} else "/{id}"


def _upstream_code(response: httpx.Response) -> int | None:
    try:
        body = response.json()
    except ValueError:
        return None
    code = body.get("code") if isinstance(body, dict) else None
    return code if isinstance(code, int) else None


def _upstream_message(response: httpx.Response) -> str:
    """LiveAvatar's own error text, from whichever of its known error shapes the body has."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict):
        if isinstance(body.get("message"), str) and body["message"]:
            return str(body["message"])
        detail = body.get("detail")
        if isinstance(detail, list) and detail:
            parts = []
            for item in detail[:3]:
                if isinstance(item, dict):
                    loc = ".".join(str(p) for p in item.get("loc", []))
                    parts.append(f"{loc}: {item.get('msg', '')}".strip(": "))
            return "; ".join(parts)
        if isinstance(detail, str):
            return detail
        data = body.get("data")
        if isinstance(data, list) and data and isinstance(data[0], dict):
            return str(data[0].get("message", ""))
        if isinstance(data, dict) and isinstance(data.get("message"), str):
            return str(data["message"])
    return response.reason_phrase
