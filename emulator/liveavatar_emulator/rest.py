"""LiveAvatar's REST API (reference §2): sessions plus a few cheap read-only endpoints."""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse

from . import catalog
from .auth import Caller, registry_of, require_api_key, require_either, require_session_token
from .config import SANDBOX_AVATAR_ID
from .envelope import ApiError, ok
from .lite_ws import ws_url
from .models import KeepAliveRequest, StartRequest, StopRequest, TokenRequest
from .sessions import FullBackend, Session, SessionRegistry, SessionStatus
from .tokens import (
    CLIENT_IDENTITY,
    agent_identity,
    mint_livekit_token,
    mint_session_token,
    new_ws_token,
)

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/v1")

Registry = Annotated[SessionRegistry, Depends(registry_of)]
ApiKey = Annotated[None, Depends(require_api_key)]
Bearer = Annotated[Session, Depends(require_session_token)]
Either = Annotated[Caller, Depends(require_either)]


# -- tokens and start -----------------------------------------------------------------------


@router.post("/sessions/token")
async def create_session_token(
    _auth: ApiKey, registry: Registry, body: Annotated[TokenRequest, Body()]
) -> JSONResponse:
    """Create a session; answer its id and a session JWT (200)."""
    cfg = registry.config
    request_data: dict[str, Any] = body.model_dump(mode="json", exclude_unset=True)
    request_data["mode"] = "FULL" if body.mode == "FULL" else "LITE"  # CUSTOM is legacy LITE
    if cfg.enforce_sandbox_avatar and body.is_sandbox and str(body.avatar_id) != SANDBOX_AVATAR_ID:
        raise ApiError(400, "Sandbox sessions may only use the sandbox avatar")
    requested = body.max_session_duration or cfg.default_max_session_duration_s
    session = registry.create(
        mode=request_data["mode"],
        token_request=request_data,
        is_sandbox=body.is_sandbox,
        max_duration_s=min(requested, cfg.tier_max_session_duration_s),
    )
    token = mint_session_token(cfg.session_token_secret, session.id, request_data)
    return ok({"session_id": session.id, "session_token": token}, "Session token created")


@router.post("/sessions/start", status_code=201)
async def start_session(
    request: Request,
    session: Bearer,
    registry: Registry,
    body: Annotated[StartRequest | None, Body()] = None,
) -> JSONResponse:
    """Start the token's session and answer connection details (201)."""
    if body is not None and body.session_id is not None and str(body.session_id) != session.id:
        raise ApiError(400, "session_id does not match the session token")
    if session.status is SessionStatus.STARTED:
        raise ApiError(400, "Session is already started")
    if session.status is SessionStatus.ENDED:
        raise ApiError(400, "Session has already ended")
    if session.credit_rate() > 0 and registry.credits < session.credit_rate():
        raise ApiError(400, "Insufficient credits to start a session")
    if session.mode == "LITE":
        session.ws_token = new_ws_token()
    session.start()
    try:
        data = await _start_payload(request, registry, session)
    except Exception:
        logger.exception("session %s: FULL backend failed to start", session.id)
        await session.end("SERVER_ERROR")
        raise ApiError(500, "Session start failed") from None
    return ok(data, "Session started", status=201)


async def _start_payload(
    request: Request, registry: SessionRegistry, session: Session
) -> dict[str, Any]:
    cfg = registry.config
    data: dict[str, Any] = {"session_id": session.id}
    ttl = float(session.max_duration_s) + 600.0
    if session.mode == "FULL":
        backend = registry.full_backend
        if backend is not None:
            session.add_end_listener(backend.session_ended)
            client_token, agent_token = backend.tokens_for(session)
            await backend.session_started(session)
            data["livekit_url"] = backend.livekit_url
        else:
            client_token = _livekit_token(registry, session, CLIENT_IDENTITY, ttl)
            agent_token = _livekit_token(registry, session, agent_identity(session.id), ttl, True)
            data["livekit_url"] = cfg.livekit_url
        data["livekit_client_token"] = client_token
        if cfg.full_agent_token and agent_token is not None:
            data["livekit_agent_token"] = agent_token
        data["max_session_duration"] = session.max_duration_s
        return data

    byo = session.token_request.get("livekit_config")
    backend = registry.full_backend
    if isinstance(byo, dict):
        if cfg.lite_byo_echo_livekit:
            data["livekit_url"] = byo.get("livekit_url")
            data["livekit_client_token"] = byo.get("livekit_client_token")
        await _join_callers_room(backend, session, byo)
    elif backend is not None:
        # The hosted room lives on the emulator's LiveKit server: its tokens, its URL.
        session.add_end_listener(backend.session_ended)
        session.avatar_media = await backend.lite_session_started(session)
        data["livekit_url"] = backend.livekit_url
        data["livekit_client_token"] = backend.mint(session.id, CLIENT_IDENTITY)
        data["livekit_agent_token"] = backend.mint(
            session.id, agent_identity(session.id), agent=True
        )
    else:
        data["livekit_url"] = cfg.livekit_url
        data["livekit_client_token"] = _livekit_token(registry, session, CLIENT_IDENTITY, ttl)
        data["livekit_agent_token"] = _livekit_token(
            registry, session, agent_identity(session.id), ttl, True
        )
    data["max_session_duration"] = session.max_duration_s
    assert session.ws_token is not None
    data["ws_url"] = ws_url(cfg.public_host, _port(request), session.id, session.ws_token)
    return data


async def _join_callers_room(
    backend: FullBackend | None, session: Session, byo: dict[str, Any]
) -> None:
    """Bring your own room: the avatar joins the caller's room with the caller's token,
    in-process when the emulator's server hosts it, else as a client of that server."""
    token = byo.get("livekit_client_token")
    url = byo.get("livekit_url")
    if backend is None or not isinstance(token, str) or not isinstance(url, str):
        logger.warning("session %s: no LiveKit support; the avatar does not join", session.id)
        return
    session.add_end_listener(backend.session_ended)
    grant = backend.verifies(token)
    if grant is None:
        # Another LiveKit server: the avatar joins it as a client.
        session.avatar_media = await backend.lite_session_remote(session, url, token)
        return
    room, identity = grant
    session.avatar_media = await backend.lite_session_started(session, room, identity)


def _livekit_token(
    registry: SessionRegistry, session: Session, identity: str, ttl: float, agent: bool = False
) -> str:
    cfg = registry.config
    return mint_livekit_token(
        cfg.livekit_api_key,
        cfg.livekit_api_secret,
        session.id,
        identity,
        ttl_s=ttl,
        agent=agent,
    )


def _port(request: Request) -> int:
    cfg = registry_of(request).config
    if cfg.public_port is not None:
        return cfg.public_port
    server = request.scope.get("server")
    if server and server[1]:
        return int(server[1])
    return request.url.port or 80


# -- stop and keep-alive ----------------------------------------------------------------------


def _target(caller: Caller, registry: SessionRegistry, session_id: Any) -> Session:
    """Session addressed by a stop/keep-alive call (API key needs ``session_id``)."""
    if caller.session is not None:
        if session_id is not None and str(session_id) != caller.session.id:
            raise ApiError(400, "session_id does not match the session token")
        return caller.session
    if session_id is None:
        raise ApiError(400, "session_id is required when authenticating with an API key")
    session = registry.get(str(session_id))
    if session is None:
        raise ApiError(404, "Session not found")
    return session


async def _stop(session: Session, reason: str) -> JSONResponse:
    ended = await session.end(reason)
    return ok(None, "Session stopped" if ended else "Session already stopped")


@router.post("/sessions/stop")
async def stop_session(
    caller: Either, registry: Registry, body: Annotated[StopRequest | None, Body()] = None
) -> JSONResponse:
    """Stop a session. No body = the OpenAPI body default ``{"reason":"USER_CLOSED"}``."""
    session = _target(caller, registry, body.session_id if body else None)
    return await _stop(session, body.reason if body else "USER_CLOSED")


@router.delete("/sessions")
async def delete_session(
    session: Bearer, registry: Registry, body: Annotated[StopRequest | None, Body()] = None
) -> JSONResponse:
    """Undocumented Bearer alias of stop used by HeyGen's demo (reference §2.3)."""
    session = _target(Caller(session=session), registry, body.session_id if body else None)
    return await _stop(session, body.reason if body else "USER_CLOSED")


@router.post("/sessions/keep-alive")
async def keep_alive(
    caller: Either, registry: Registry, body: Annotated[KeepAliveRequest | None, Body()] = None
) -> JSONResponse:
    """Reset the idle timer."""
    session = _target(caller, registry, body.session_id if body else None)
    if not session.active:
        raise ApiError(400, "Session is not active")
    session.touch()
    return ok(None, "Session kept alive")


# -- listing ---------------------------------------------------------------------------------


def session_entry(session: Session) -> dict[str, Any]:
    """``ListSessionEntrySchema`` / ``ListHistoricEntrySchema``."""
    duration = session.duration_s()
    entry: dict[str, Any] = {
        "id": session.id,
        "created_at": session.created_at.isoformat(),
        "updated_at": session.updated_at.isoformat(),
        "duration": int(duration),
        "source": "API",
        "mode": session.mode,
        "is_sandbox": session.is_sandbox,
        "credits_consumed": (
            session.credits_consumed
            if not session.active
            else round(duration / 60.0 * session.credit_rate(), 4)
        ),
    }
    if not session.active:
        assert session.ended_at is not None
        entry["end_at"] = session.ended_at.isoformat()
        entry["end_reason"] = session.end_reason
    return entry


def paginate(request: Request, items: list[Any], page: int, page_size: int) -> dict[str, Any]:
    """``{count, next, previous, results}`` with absolute page URLs."""
    start = (page - 1) * page_size
    more = start + page_size < len(items)
    return {
        "count": len(items),
        "next": str(request.url.include_query_params(page=page + 1)) if more else None,
        "previous": (
            str(request.url.include_query_params(page=page - 1)) if page > 1 and items else None
        ),
        "results": items[start : start + page_size],
    }


Page = Annotated[int, Query(ge=1)]
PageSize = Annotated[int, Query(ge=1, le=100)]


@router.get("/sessions")
async def list_sessions(
    request: Request,
    _auth: ApiKey,
    registry: Registry,
    type: Annotated[Literal["active", "historic"], Query()],
    page: Page = 1,
    page_size: PageSize = 20,
    avatar_id: str | None = None,
    embed_id: str | None = None,
    context_id: str | None = None,
) -> JSONResponse:
    """Active or historic sessions, newest first."""
    want_active = type == "active"
    sessions = [s for s in reversed(registry.all()) if s.active == want_active]
    if avatar_id is not None:
        sessions = [s for s in sessions if s.token_request.get("avatar_id") == avatar_id]
    if context_id is not None:
        sessions = [
            s
            for s in sessions
            if (s.token_request.get("avatar_persona") or {}).get("context_id") == context_id
        ]
    if embed_id is not None:
        sessions = []  # the emulator has no embeds
    return ok(paginate(request, [session_entry(s) for s in sessions], page, page_size))


@router.get("/sessions/{session_id}")
async def get_session(session_id: str, _auth: ApiKey, registry: Registry) -> JSONResponse:
    """One session entry."""
    session = registry.get(session_id)
    if session is None:
        raise ApiError(404, "Session not found")
    return ok(session_entry(session))


# -- cheap extras (reference §8) ---------------------------------------------------------------


@router.get("/avatars/public")
async def public_avatars(
    request: Request, page: Page = 1, page_size: PageSize = 20
) -> JSONResponse:
    """Public avatars (no auth, like the OpenAPI spec)."""
    return ok(paginate(request, catalog.PUBLIC_AVATARS, page, page_size))


@router.get("/voices")
async def voices(
    request: Request, _auth: ApiKey, page: Page = 1, page_size: PageSize = 20
) -> JSONResponse:
    """Voices."""
    return ok(paginate(request, catalog.VOICES, page, page_size))


@router.get("/contexts")
async def contexts(
    request: Request, _auth: ApiKey, page: Page = 1, page_size: PageSize = 20
) -> JSONResponse:
    """Contexts."""
    return ok(paginate(request, catalog.CONTEXTS, page, page_size))


@router.get("/users/credits")
async def credits(_auth: ApiKey, registry: Registry) -> JSONResponse:
    """Remaining credits as a decimal string."""
    return ok({"credits_left": f"{registry.credits:.2f}"})
