"""Token minting: LiveAvatar session JWTs and LiveKit room JWTs.

Session tokens are HS256 JWTs whose payload carries ``session_id`` and ``start_session_data``
(the token request body; HeyGen's web SDK decodes ``start_session_data.mode``).

LiveKit tokens use livekit-api's ``AccessToken`` with ``video.room`` = the session id (the room
name). Identities: the viewer is ``client``; the LITE agent token is ``agent-<first 8 chars of
the session id>`` so it never collides with LiveAvatar's own FULL participants (``heygen`` and
``liveavatar-agent-<session_id>``, reference §4.1).
"""

from __future__ import annotations

import datetime
import secrets
import time
from typing import Any

import jwt
from livekit.api import AccessToken, VideoGrants

SESSION_TOKEN_ISSUER = "liveavatar-emulator"
CLIENT_IDENTITY = "client"


def mint_session_token(secret: str, session_id: str, start_session_data: dict[str, Any]) -> str:
    """A session JWT (HS256) for ``session_id`` mirroring the token request."""
    now = int(time.time())
    payload = {
        "iss": SESSION_TOKEN_ISSUER,
        "iat": now,
        "session_id": session_id,
        "start_session_data": start_session_data,
    }
    return jwt.encode(payload, secret, algorithm="HS256")


def decode_session_token(secret: str, token: str) -> dict[str, Any] | None:
    """The payload of a valid session token, or ``None`` for anything we did not mint."""
    try:
        payload: dict[str, Any] = jwt.decode(
            token, secret, algorithms=["HS256"], issuer=SESSION_TOKEN_ISSUER
        )
    except jwt.PyJWTError:
        return None
    if not isinstance(payload.get("session_id"), str):
        return None
    return payload


def agent_identity(session_id: str) -> str:
    """Identity inside the LITE agent token."""
    return f"agent-{session_id.replace('-', '')[:8]}"


def mint_livekit_token(
    api_key: str,
    api_secret: str,
    room: str,
    identity: str,
    *,
    ttl_s: float,
    agent: bool = False,
) -> str:
    """A LiveKit access token that may join ``room`` as ``identity``."""
    grants = VideoGrants(
        room_join=True,
        room=room,
        can_publish=True,
        can_subscribe=True,
        can_publish_data=True,
    )
    token = (
        AccessToken(api_key, api_secret)
        .with_identity(identity)
        .with_name(identity)
        .with_grants(grants)
        .with_ttl(datetime.timedelta(seconds=max(60.0, ttl_s)))
    )
    if agent:
        token = token.with_kind("agent")
    return str(token.to_jwt())


def new_ws_token() -> str:
    """Opaque secret carried in ``ws_url``'s query string."""
    return secrets.token_urlsafe(24)
