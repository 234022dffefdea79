"""The typed errors' contract (server/avatar_bridge/errors.py's docstring and the README's errors
table): each kind carries its canonical status, its message as its text, and its details."""

from __future__ import annotations

import grpc
import pytest

from avatar_bridge.errors import (
    BridgeError,
    FailedPrecondition,
    InvalidRequest,
    LimitExceeded,
    UpstreamClosed,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)

Code = grpc.StatusCode


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        (BridgeError, Code.INTERNAL),
        (InvalidRequest, Code.INVALID_ARGUMENT),
        (FailedPrecondition, Code.FAILED_PRECONDITION),
        (LimitExceeded, Code.RESOURCE_EXHAUSTED),
        (UpstreamError, Code.UNAVAILABLE),
        (UpstreamUnavailable, Code.UNAVAILABLE),
        (UpstreamTimeout, Code.DEADLINE_EXCEEDED),
        (UpstreamProtocolError, Code.INTERNAL),
        (UpstreamClosed, Code.UNAVAILABLE),
    ],
)
def test_each_kind_has_its_status_and_its_message_as_text(
    kind: type[BridgeError], code: grpc.StatusCode
) -> None:
    error = kind("the problem: expected something")
    assert error.grpc_code == code
    assert error.message == "the problem: expected something"
    assert str(error) == "the problem: expected something"


@pytest.mark.parametrize(
    ("status", "message", "code"),
    [
        (400, "Bad request", Code.INVALID_ARGUMENT),
        (422, "Unprocessable", Code.INVALID_ARGUMENT),
        (401, "Invalid API key", Code.UNAUTHENTICATED),
        (403, "Forbidden", Code.PERMISSION_DENIED),
        (404, "Session not found", Code.NOT_FOUND),
        (402, "Payment required", Code.RESOURCE_EXHAUSTED),
        (400, "Insufficient credits to start a session", Code.RESOURCE_EXHAUSTED),
        (429, "Too many requests", Code.RESOURCE_EXHAUSTED),
    ],
)
def test_rejections_map_on_liveavatar_status_and_words(
    status: int, message: str, code: grpc.StatusCode
) -> None:
    error = UpstreamRejected(
        "LiveAvatar refused", http_status=status, upstream_code=status, upstream_message=message
    )
    assert error.grpc_code == code
    assert (error.http_status, error.upstream_code) == (status, status)
    assert str(error) == "LiveAvatar refused"


def test_upstream_closed_keeps_the_close_frame() -> None:
    error = UpstreamClosed("closed", close_code=4000, close_reason="IDLE_TIMEOUT")
    assert (error.close_code, error.close_reason) == (4000, "IDLE_TIMEOUT")
    assert str(error) == "closed"
