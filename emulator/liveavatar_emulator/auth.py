"""The two auth schemes of reference §2.1: ``X-API-KEY`` and ``Authorization: Bearer <jwt>``.

Each FastAPI dependency answers 401 (envelope shape) for a missing or wrong credential, and for
the wrong scheme (an API key on ``/start``, a session token on ``/token``).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from fastapi import Request

from .envelope import ApiError
from .sessions import Session, SessionRegistry
from .tokens import decode_session_token


@dataclass(frozen=True)
class Caller:
    """Who is calling: an API key holder (``session`` None) or a session-token holder."""

    session: Session | None

    @property
    def by_api_key(self) -> bool:
        """Authenticated with ``X-API-KEY``."""
        return self.session is None


def registry_of(request: Request) -> SessionRegistry:
    """The registry stored on the app."""
    registry: SessionRegistry = request.app.state.registry
    return registry


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def _valid_key(request: Request, key: str) -> bool:
    keys = registry_of(request).config.api_keys
    return any(secrets.compare_digest(key.encode(), k.encode()) for k in keys)


def _session_from_bearer(request: Request, token: str) -> Session:
    registry = registry_of(request)
    payload = decode_session_token(registry.config.session_token_secret, token)
    if payload is None:
        raise ApiError(401, "Invalid session token")
    session = registry.get(payload["session_id"])
    if session is None:
        raise ApiError(404, "Session not found")
    return session


def require_api_key(request: Request) -> None:
    """``X-API-KEY`` only."""
    key = request.headers.get("x-api-key")
    if key is None:
        if _bearer(request) is not None:
            raise ApiError(
                401, "This endpoint requires an API key (X-API-KEY), not a session token"
            )
        raise ApiError(401, "Missing API key")
    if not _valid_key(request, key):
        raise ApiError(401, "Invalid API key")


def require_session_token(request: Request) -> Session:
    """``Authorization: Bearer <session_token>`` only."""
    token = _bearer(request)
    if token is None:
        if request.headers.get("x-api-key") is not None:
            raise ApiError(401, "This endpoint requires a session token (Bearer), not an API key")
        raise ApiError(401, "Missing session token")
    return _session_from_bearer(request, token)


def require_either(request: Request) -> Caller:
    """API key or session token (stop, keep-alive). A present API key is checked first."""
    key = request.headers.get("x-api-key")
    if key is not None:
        if not _valid_key(request, key):
            raise ApiError(401, "Invalid API key")
        return Caller(session=None)
    token = _bearer(request)
    if token is None:
        raise ApiError(401, "Missing API key or session token")
    return Caller(session=_session_from_bearer(request, token))
