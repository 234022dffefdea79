"""Parsing the client's join: token claims and the v1 ``join_request`` / v0 query parameters."""

from __future__ import annotations

import base64
import gzip
import zlib
from dataclasses import dataclass, field

from livekit.protocol import rtc


class JoinError(Exception):
    """The join cannot proceed; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class JoinParams:
    """What the server needs from a join, whichever signalling path it came on."""

    protocol_version: str
    auto_subscribe: bool = True
    sdk: str = ""
    client_version: str = ""
    metadata: str = ""
    attributes: dict[str, str] = field(default_factory=dict)
    publisher_offer: rtc.SessionDescription | None = None


def bearer_token(authorization: str | None, query_token: str | None) -> str | None:
    """The access token from ``Authorization: Bearer`` or the ``access_token`` parameter."""
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return query_token or None


def parse_v1(join_request_param: str | None) -> JoinParams:
    """Decode ``join_request``: URL-safe base64 of WrappedJoinRequest (optionally gzip)."""
    if not join_request_param:
        raise JoinError(400, "missing join_request")
    try:
        raw = base64.urlsafe_b64decode(join_request_param + "=" * (-len(join_request_param) % 4))
        wrapped = rtc.WrappedJoinRequest()
        wrapped.ParseFromString(raw)
        body = wrapped.join_request
        if wrapped.compression == rtc.WrappedJoinRequest.GZIP:
            body = gzip.decompress(body)
        elif wrapped.compression != rtc.WrappedJoinRequest.NONE:
            body = zlib.decompress(body, -zlib.MAX_WBITS)
        req = rtc.JoinRequest()
        req.ParseFromString(body)
    except (ValueError, OSError, zlib.error) as exc:
        raise JoinError(400, f"invalid join_request: {exc}") from exc
    except Exception as exc:  # protobuf DecodeError
        raise JoinError(400, f"invalid join_request: {exc}") from exc
    return JoinParams(
        protocol_version="v1",
        auto_subscribe=req.connection_settings.auto_subscribe,
        sdk=str(req.client_info.sdk),
        client_version=req.client_info.version,
        metadata=req.metadata,
        attributes=dict(req.participant_attributes),
        publisher_offer=req.publisher_offer if req.HasField("publisher_offer") else None,
    )


def parse_v0(query: dict[str, str]) -> JoinParams:
    """Read the v0 query parameters (the publisher offer comes later as a signal)."""
    return JoinParams(
        protocol_version="v0",
        auto_subscribe=query.get("auto_subscribe", "1") not in ("0", "false"),
        sdk=query.get("sdk", ""),
        client_version=query.get("version", ""),
    )
