"""Test-only inspection and control API under ``/_emulator/`` (no auth)."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from .auth import registry_of
from .faults import FaultAction, FaultInjector
from .sessions import Session, SessionRegistry
from .socket_faults import socket_faults

if TYPE_CHECKING:
    from .full import LiveKitFullBackend

router = APIRouter(prefix="/_emulator")

Registry = Annotated[SessionRegistry, Depends(registry_of)]

_SECRET_MARKERS = ("token", "secret", "api_key", "password")


def redact(value: Any) -> Any:
    """Copy of ``value`` with secret-looking string fields replaced by ``***``."""
    if isinstance(value, dict):
        return {
            k: "***"
            if isinstance(v, str) and any(m in k.lower() for m in _SECRET_MARKERS)
            else redact(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def summary(session: Session) -> dict[str, Any]:
    """Everything about a session except the logs."""
    played = session.played_summary()
    return {
        "id": session.id,
        "mode": session.mode,
        "status": session.status.value,
        "end_reason": session.end_reason,
        "is_sandbox": session.is_sandbox,
        "max_duration": session.max_duration_s,
        "created_at": session.created_at.isoformat(),
        "started_at": session.started_at.isoformat() if session.started_at else None,
        "ended_at": session.ended_at.isoformat() if session.ended_at else None,
        "duration": session.duration_s(),
        "credits_consumed": session.credits_consumed,
        "counts": dict(session.counters),
        "commands": len(session.commands),
        "dropped_commands": sum(1 for c in session.commands if c.dropped),
        "pcm_bytes": len(session.pcm),
        "played_bytes": played["played_bytes"],
        "discarded_bytes": played["discarded_bytes"],
        "ws_connected": session.ws_connected,
        "ws_connections": session.ws_connections,
        "token_request": redact(session.token_request),
    }


def _session(registry: SessionRegistry, session_id: str) -> Session:
    session = registry.get(session_id)
    if session is None:
        raise HTTPException(404, "Session not found")
    return session


def _faults(request: Request) -> FaultInjector:
    faults: FaultInjector = request.app.state.faults
    return faults


@router.get("/sessions")
async def sessions(registry: Registry) -> dict[str, Any]:
    """All sessions, oldest first."""
    return {"sessions": [summary(s) for s in registry.all()]}


@router.get("/sessions/{session_id}")
async def session_detail(session_id: str, registry: Registry) -> dict[str, Any]:
    """Summary plus the command log, sent events, free-form records and utterances."""
    session = _session(registry, session_id)
    return {
        **summary(session),
        "command_log": [asdict(c) for c in session.commands],
        "events": [asdict(e) for e in session.events],
        "records": session.records,
        "utterances": [asdict(u) for u in session.utterances],
    }


@router.get("/sessions/{session_id}/audio")
async def session_audio(session_id: str, registry: Registry) -> Response:
    """Raw PCM16LE 24 kHz mono accepted from ``agent.speak``, byte-exact, in arrival order."""
    session = _session(registry, session_id)
    return Response(bytes(session.pcm), media_type="application/octet-stream")


@router.get("/sessions/{session_id}/played")
async def session_played(session_id: str, registry: Registry) -> dict[str, Any]:
    """Received vs played vs discarded bytes, overall and per utterance."""
    return _session(registry, session_id).played_summary()


class EndRequest(BaseModel):
    """Force a server-side end."""

    model_config = ConfigDict(extra="forbid")
    reason: str = "SERVER_ERROR"
    close_code: int | None = None


@router.post("/sessions/{session_id}/end")
async def end_session(
    session_id: str, registry: Registry, body: Annotated[EndRequest | None, Body()] = None
) -> dict[str, Any]:
    """End a session as the service would (e.g. ``NO_CREDITS``, ``SERVER_ERROR``)."""
    body = body or EndRequest()
    session = _session(registry, session_id)
    ended = await session.end(body.reason, close_code=body.close_code)
    return {"ended": ended, "end_reason": session.end_reason}


class DropRequest(BaseModel):
    """Abruptly close the LITE socket without ending the session."""

    model_config = ConfigDict(extra="forbid")
    code: int = 1011
    reason: str = "internal error"


@router.post("/sessions/{session_id}/drop_ws")
async def drop_ws(
    session_id: str, registry: Registry, body: Annotated[DropRequest | None, Body()] = None
) -> dict[str, Any]:
    """Mid-session socket drop (reference §8 fault profile)."""
    body = body or DropRequest()
    dropped = await _session(registry, session_id).close_sockets(body.code, body.reason)
    return {"dropped": dropped}


@router.get("/active")
async def active(registry: Registry) -> dict[str, Any]:
    """Ids of sessions not ended yet."""
    return {"active": [s.id for s in registry.active()]}


class FaultRequest(BaseModel):
    """Fail and/or delay the next calls to any ``/v1`` HTTP endpoint."""

    model_config = ConfigDict(extra="forbid")
    fail_next: int = Field(0, ge=0)
    status: int = Field(503, ge=400, le=599)
    message: str | None = None
    code: int | None = None
    delay_s: float = Field(0.0, ge=0.0)
    """Real seconds (not time-scaled)."""
    delay_next: int | None = Field(None, ge=0)
    """How many calls to delay; default ``fail_next`` (or 1) when ``delay_s`` > 0."""


@router.post("/faults")
async def set_faults(request: Request, body: FaultRequest) -> dict[str, Any]:
    """Arm faults; answers the fault state."""
    faults = _faults(request)
    faults.configure(
        fail_next=body.fail_next,
        status=body.status,
        message=body.message,
        code=body.code,
        delay_s=body.delay_s,
        delay_next=body.delay_next,
    )
    return faults.snapshot()


class FaultRuleRequest(BaseModel):
    """A fault scoped to one endpoint and/or one session (see faults.FaultRule)."""

    model_config = ConfigDict(extra="forbid")
    action: FaultAction
    endpoint: str | None = None
    """"token", "start", "stop", "keep-alive", "{id}" or a full /v1 path; None: every call."""
    session_id: str | None = None
    times: int = Field(1, ge=-1)
    """Calls to hit; -1: every matching call until cleared."""
    status: int = Field(503, ge=400, le=599)
    message: str | None = None
    code: int | None = None
    delay_s: float = Field(0.0, ge=0.0)
    """Real seconds (not time-scaled): the delay before the route, or how long a lost answer
    is held."""


@router.post("/faults/rules")
async def add_fault_rule(request: Request, body: FaultRuleRequest) -> dict[str, Any]:
    """Arm a scoped fault rule; answers the rule (with its id)."""
    rule = _faults(request).add_rule(
        body.action,
        endpoint=body.endpoint,
        session_id=body.session_id,
        times=body.times,
        status=body.status,
        message=body.message,
        code=body.code,
        delay_s=body.delay_s,
    )
    return asdict(rule)


@router.delete("/faults/rules")
async def clear_fault_rules(request: Request) -> dict[str, Any]:
    """Disarm every scoped rule (the global fail_next/delay_next switch is kept)."""
    _faults(request).clear_rules()
    return _faults(request).snapshot()


@router.get("/faults")
async def get_faults(request: Request) -> dict[str, Any]:
    """Current fault state (including how many calls were failed/delayed)."""
    return _faults(request).snapshot()


@router.post("/reset")
async def reset(request: Request, registry: Registry) -> dict[str, Any]:
    """End and forget every session, clear faults, restore credits."""
    await registry.reset()
    _faults(request).reset()
    return {"reset": True}


# -- per-session LITE socket faults (see socket_faults.py) -----------------------------------


class StallRequest(BaseModel):
    """Hold every event of the session's LITE socket for ``seconds`` (real seconds)."""

    model_config = ConfigDict(extra="forbid")
    seconds: float = Field(..., ge=0.0, le=600.0)


class RefuseReconnectRequest(BaseModel):
    """Refuse the next ``count`` reconnect handshakes (HTTP 403); 0 stops refusing."""

    model_config = ConfigDict(extra="forbid")
    count: int = Field(1, ge=0)


@router.post("/sessions/{session_id}/ws_stall")
async def ws_stall(
    session_id: str, request: Request, registry: Registry, body: StallRequest
) -> dict[str, Any]:
    """Stall the session's LITE events: nothing is sent until the stall ends."""
    _session(registry, session_id)
    faults = socket_faults(request.app.state)
    faults.stall(session_id, body.seconds)
    return faults.snapshot(session_id)


@router.post("/sessions/{session_id}/ws_refuse_reconnect")
async def ws_refuse_reconnect(
    session_id: str, request: Request, registry: Registry, body: RefuseReconnectRequest
) -> dict[str, Any]:
    """Refuse the session's next LITE reconnects, as an expired ws_url would."""
    _session(registry, session_id)
    faults = socket_faults(request.app.state)
    faults.refuse(session_id, body.count)
    return faults.snapshot(session_id)


@router.get("/sessions/{session_id}/ws_faults")
async def ws_faults(session_id: str, request: Request, registry: Registry) -> dict[str, Any]:
    """The session's socket fault state and counters."""
    _session(registry, session_id)
    return socket_faults(request.app.state).snapshot(session_id)


# -- per-session FULL room faults (see full/faults.py) ----------------------------------------


class RoomDropRequest(BaseModel):
    """Remove real participants from the session's room (LiveKit ``leave``)."""

    model_config = ConfigDict(extra="forbid")
    identity: str | None = None
    """Only this identity; default every non-emulated participant (the bridge, a frontend)."""
    abrupt: bool = False
    """Break the signalling connection instead (no ``leave``): the SDK tries to reconnect."""


class LeaveRequest(BaseModel):
    """LiveAvatar's ``agent`` or ``avatar`` (heygen) participant leaves the room."""

    model_config = ConfigDict(extra="forbid")
    who: Literal["agent", "avatar"] = "agent"
    rejoin_after_s: float | None = Field(None, ge=0.0, le=600.0)
    """Rejoin after this many real seconds; default never."""


@router.post("/sessions/{session_id}/room_drop")
async def room_drop(
    session_id: str, registry: Registry, body: Annotated[RoomDropRequest | None, Body()] = None
) -> dict[str, Any]:
    """The room drops the bridge's participant (or the one named)."""
    from .full import faults as full_faults

    backend = _full_backend(registry)
    body = body or RoomDropRequest()
    try:
        dropped = await full_faults.drop_clients(
            backend, session_id, body.identity, abrupt=body.abrupt
        )
    except full_faults.NoRoom:
        raise HTTPException(404, "No running FULL room for this session") from None
    return {"dropped": dropped}


@router.post("/sessions/{session_id}/room_leave")
async def room_leave(session_id: str, registry: Registry, body: LeaveRequest) -> dict[str, Any]:
    """LiveAvatar's agent or avatar participant leaves the room (and optionally rejoins)."""
    from .full import faults as full_faults

    backend = _full_backend(registry)
    try:
        identity = full_faults.participant_leaves(
            backend, session_id, body.who, body.rejoin_after_s
        )
    except full_faults.NoRoom:
        raise HTTPException(404, "No running FULL room for this session") from None
    return {"left": identity, "rejoin_after_s": body.rejoin_after_s}


def _full_backend(registry: SessionRegistry) -> LiveKitFullBackend:
    from .full import LiveKitFullBackend

    backend = registry.full_backend
    if not isinstance(backend, LiveKitFullBackend):
        raise HTTPException(409, "This emulator runs without the FULL (LiveKit) backend")
    return backend
