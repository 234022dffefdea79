"""Fault injection for ``/v1`` endpoints.

Two layers, both applied by one HTTP middleware:

* the legacy global switch (``fail_next`` / ``delay_next``): fail or delay the next N calls to
  any ``/v1`` endpoint;
* rules, each scoped to one endpoint and/or one session, that fail a call before it reaches the
  route (``error``), delay it before (``delay``), or let the route run and then lose its answer:
  hold it past the client's timeout (``lose``) or drop the connection mid-answer (``drop``).
  A rule matches ``times`` calls (``-1``: every call) and counts its ``hits``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Literal

from fastapi import Request, Response
from fastapi.responses import StreamingResponse

from .envelope import error_response

logger = logging.getLogger(__name__)

FaultAction = Literal["error", "delay", "lose", "drop"]
"""error: answer `status` without running the route; delay: wait `delay_s`, then run it;
lose: run it, then hold the answer `delay_s`; drop: run it, then cut the connection."""

_NAMED_ENDPOINTS = ("token", "start", "stop", "keep-alive")
_SESSION_PATH = re.compile(r"^/v1/sessions/(?P<id>[^/]+)$")


def endpoint_path(endpoint: str) -> str:
    """Normalise "start", "/start" or "/v1/sessions/start" to the full path."""
    if endpoint.startswith("/v1/"):
        return endpoint
    return "/v1/sessions/" + endpoint.lstrip("/")


@dataclass
class FaultState:
    """Pending global faults. ``delay_s`` is real seconds (not time-scaled)."""

    fail_next: int = 0
    status: int = 503
    code: int | None = None
    message: str = "Service temporarily unavailable (injected fault)"
    delay_next: int = 0
    delay_s: float = 0.0
    failed: int = 0
    """How many calls were failed so far (for assertions)."""
    delayed: int = 0


@dataclass
class FaultRule:
    """One scoped fault. ``endpoint`` None matches every ``/v1`` call; ``session_id`` None
    matches every session (a token call has no session yet, so only endpoint rules hit it)."""

    id: int
    action: FaultAction
    endpoint: str | None = None
    session_id: str | None = None
    times: int = 1
    status: int = 503
    message: str = "Service temporarily unavailable (injected fault)"
    code: int | None = None
    delay_s: float = 0.0
    """Real seconds (not time-scaled)."""
    hits: int = 0
    hit_sessions: list[str] = field(default_factory=list)
    """Session ids of the calls this rule hit (token calls: the id the route created)."""

    def matches(self, path: str, session_id: str | None) -> bool:
        if self.times == 0:
            return False
        if self.endpoint is not None:
            wanted = endpoint_path(self.endpoint)
            if wanted == "/v1/sessions/{id}":
                if not _is_session_path(path):
                    return False
            elif wanted != path:
                return False
        return self.session_id is None or self.session_id == session_id


def _is_session_path(path: str) -> bool:
    found = _SESSION_PATH.match(path)
    return found is not None and found["id"] not in _NAMED_ENDPOINTS


class FaultInjector:
    """Holds the fault state and applies it as HTTP middleware on ``/v1`` paths."""

    def __init__(self) -> None:
        self.state = FaultState()
        self.rules: list[FaultRule] = []
        self._next_id = 1

    def configure(
        self,
        *,
        fail_next: int,
        status: int,
        message: str | None,
        code: int | None,
        delay_s: float,
        delay_next: int | None,
    ) -> None:
        """Replace the pending global faults (counters of past faults are kept)."""
        self.state.fail_next = fail_next
        self.state.status = status
        self.state.code = code
        if message is not None:
            self.state.message = message
        self.state.delay_s = delay_s
        if delay_next is None:
            delay_next = (fail_next or 1) if delay_s > 0 else 0
        self.state.delay_next = delay_next
        logger.info("faults armed: fail_next=%d status=%d delay_s=%.3f", fail_next, status, delay_s)

    def add_rule(
        self,
        action: FaultAction,
        *,
        endpoint: str | None = None,
        session_id: str | None = None,
        times: int = 1,
        status: int = 503,
        message: str | None = None,
        code: int | None = None,
        delay_s: float = 0.0,
    ) -> FaultRule:
        """Arm a scoped rule; rules are tried in the order they were added."""
        rule = FaultRule(
            id=self._next_id,
            action=action,
            endpoint=endpoint,
            session_id=session_id,
            times=times,
            status=status,
            code=code,
            delay_s=delay_s,
        )
        if message is not None:
            rule.message = message
        self._next_id += 1
        self.rules.append(rule)
        logger.info("fault rule armed: %s", asdict(rule))
        return rule

    def clear_rules(self) -> None:
        self.rules = []

    def reset(self) -> None:
        """Clear everything."""
        self.state = FaultState()
        self.rules = []

    def snapshot(self) -> dict[str, object]:
        """JSON view of the state."""
        return {**asdict(self.state), "rules": [asdict(r) for r in self.rules]}

    async def middleware(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        """Delay and/or fail matching requests before they reach the route."""
        path = request.url.path
        if not path.startswith("/v1/"):
            return await call_next(request)
        st = self.state
        if st.delay_next > 0:
            st.delay_next -= 1
            st.delayed += 1
            await asyncio.sleep(st.delay_s)
        if st.fail_next > 0:
            st.fail_next -= 1
            st.failed += 1
            return error_response(st.status, st.message, st.code)
        if not self.rules:
            return await call_next(request)
        rule = self._take_rule(path, await _session_of(request, path))
        if rule is None:
            return await call_next(request)
        return await self._apply(rule, request, call_next)

    def _take_rule(self, path: str, session_id: str | None) -> FaultRule | None:
        for rule in self.rules:
            if rule.matches(path, session_id):
                rule.hits += 1
                if rule.times > 0:
                    rule.times -= 1
                if session_id:
                    rule.hit_sessions.append(session_id)
                return rule
        return None

    async def _apply(
        self,
        rule: FaultRule,
        request: Request,
        call_next: Callable[[Request], Awaitable[Response]],
    ) -> Response:
        logger.info("fault rule %d (%s) hits %s", rule.id, rule.action, request.url.path)
        if rule.action == "error":
            return error_response(rule.status, rule.message, rule.code)
        if rule.action == "delay":
            await asyncio.sleep(rule.delay_s)
            return await call_next(request)
        # lose / drop: the route runs (a session may be created), its answer never arrives.
        response = await call_next(request)
        body = b"".join([chunk async for chunk in _body(response)])
        created = _created_session(body)
        if created and created not in rule.hit_sessions:
            rule.hit_sessions.append(created)
        if rule.action == "lose":
            await asyncio.sleep(rule.delay_s)
            return Response(body, response.status_code, media_type="application/json")
        return _dropped_response(len(body))


async def _body(response: Response) -> AsyncIterator[bytes]:
    iterator = getattr(response, "body_iterator", None)
    if iterator is None:
        yield bytes(response.body)
        return
    async for chunk in iterator:
        yield chunk if isinstance(chunk, bytes) else str(chunk).encode()


def _created_session(body: bytes) -> str | None:
    try:
        data = json.loads(body).get("data")
    except (ValueError, AttributeError):
        return None
    if isinstance(data, dict) and isinstance(data.get("session_id"), str):
        return str(data["session_id"])
    return None


def _dropped_response(length: int) -> Response:
    """Announce a body, send none, then fail: the server closes the connection mid-answer."""

    async def cut() -> AsyncIterator[bytes]:
        yield b""
        raise ConnectionAbortedError("injected fault: connection dropped after processing")

    return StreamingResponse(
        cut(), media_type="application/json", headers={"content-length": str(max(length, 1))}
    )


async def _session_of(request: Request, path: str) -> str | None:
    """The session a call is about: the path's id, or the JSON body's session_id."""
    found = _SESSION_PATH.match(path)
    if found is not None and found["id"] not in _NAMED_ENDPOINTS:
        return found["id"]
    if request.method != "POST":
        return None
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        return None
    value = body.get("session_id") if isinstance(body, dict) else None
    return value if isinstance(value, str) else None
