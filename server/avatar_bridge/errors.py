"""The bridge's exception tree, each error mapped once to a canonical gRPC status code.

::

    BridgeError                      (INTERNAL unless a subclass says otherwise)
    ├── InvalidRequest               INVALID_ARGUMENT: the client's config, audio or command
    ├── FailedPrecondition           FAILED_PRECONDITION: valid, but not in this state or mode
    ├── LimitExceeded                RESOURCE_EXHAUSTED: a server limit (sessions, sizes)
    ├── PermissionDenied             PERMISSION_DENIED: the caller may not do this
    ├── Unauthenticated              UNAUTHENTICATED: no valid caller credential
    ├── Overloaded                   RESOURCE_EXHAUSTED: load shedding, as the session limit
    │   └── Draining                 UNAVAILABLE: SIGTERM received, retry on another instance
    ├── ClientTooSlow                DEADLINE_EXCEEDED: the client missed a bridge deadline
    └── UpstreamError                LiveAvatar (REST, WebSocket or LiveKit) misbehaved
        ├── UpstreamRejected         a 4xx answer, mapped by status (401, 400/422, 404, credits …)
        ├── UpstreamUnavailable      UNAVAILABLE: timeouts, connection errors, 5xx after retries
        │   └── UpstreamOutcomeUnknown   a call that creates was sent and its answer never came
        ├── UpstreamTimeout          DEADLINE_EXCEEDED: the session never became ready
        ├── UpstreamProtocolError    INTERNAL: an answer that breaks LiveAvatar's documented shape
        └── UpstreamClosed           UNAVAILABLE: the upstream connection closed unexpectedly

Messages name the problem and what is expected, and never contain API keys or tokens.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import grpc


class BridgeError(Exception):
    """Base class of every error the bridge raises on purpose."""

    grpc_code: grpc.StatusCode = grpc.StatusCode.INTERNAL
    """The canonical status a call ends with when this error is fatal."""

    reason: str = "INTERNAL"
    """Machine-readable UPPER_SNAKE_CASE kind, used for in-stream Error.code."""

    retry_after_s: float | None = None
    """When a retry may succeed (RetryInfo in the status details); None: no advice."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.metadata: dict[str, str] = {}
        """ErrorInfo metadata: machine-readable facts about this error (never secrets)."""


class InvalidRequest(BridgeError):
    """The client's request is malformed: it can never succeed as sent.

    `violations` are (field path, description) pairs, every problem of a config at once
    (BadRequest in the status details); one error has one, named from its message.
    """

    grpc_code = grpc.StatusCode.INVALID_ARGUMENT
    reason = "INVALID_ARGUMENT"

    def __init__(
        self, message: str, *, field: str = "", violations: Sequence[tuple[str, str]] = ()
    ) -> None:
        super().__init__(message)
        self.violations = tuple(violations) or ((field or _field_of(message), message),)

    @classmethod
    def combine(cls, problems: Sequence[InvalidRequest]) -> InvalidRequest:
        """One error carrying every problem found (a config with three problems reports three)."""
        if len(problems) == 1:
            return problems[0]
        return cls(
            f"{len(problems)} problems: " + "; ".join(p.message for p in problems),
            violations=[v for p in problems for v in p.violations],
        )


_FIELD = re.compile(r"^(config(?:\.[A-Za-z_]+(?:\[[^\]]*\])?)+)")


def _field_of(message: str) -> str:
    """The field path a message starts with (`config.create.avatar_id is empty`), or ""."""
    match = _FIELD.match(message)
    return match.group(1) if match else ""


class FailedPrecondition(BridgeError):
    """The request is well formed but not allowed in the conversation's mode or state."""

    grpc_code = grpc.StatusCode.FAILED_PRECONDITION
    reason = "FAILED_PRECONDITION"


class LimitExceeded(BridgeError):
    """A server limit was reached (concurrent sessions, message sizes).

    `subject` names the limit for QuotaFailure (`principal:alice`, `server:max_sessions`).
    """

    grpc_code = grpc.StatusCode.RESOURCE_EXHAUSTED
    reason = "LIMIT_EXCEEDED"

    def __init__(
        self, message: str, *, subject: str = "", retry_after_s: float | None = None
    ) -> None:
        super().__init__(message)
        self.subject = subject
        self.retry_after_s = retry_after_s


class PermissionDenied(BridgeError):
    """The caller is authenticated but may not do this (a role, or an attach target)."""

    grpc_code = grpc.StatusCode.PERMISSION_DENIED
    reason = "PERMISSION_DENIED"


class Unauthenticated(BridgeError):
    """The caller presented no valid credential (the bridge's own callers, not LiveAvatar)."""

    grpc_code = grpc.StatusCode.UNAUTHENTICATED
    reason = "UNAUTHENTICATED"


class Overloaded(BridgeError):
    """The process sheds load: a retry, on this instance later or on another, may succeed.

    RESOURCE_EXHAUSTED, like the calibrated session limit: both say "this bridge is full", so a
    client handles one code for overload (issue 9: "overload is refused, never shared").
    """

    grpc_code = grpc.StatusCode.RESOURCE_EXHAUSTED
    reason = "OVERLOADED"
    retry_after_s: float | None = 1.0


class Draining(Overloaded):
    """The process is draining for exit: live calls go on, new ones belong elsewhere."""

    grpc_code = grpc.StatusCode.UNAVAILABLE  # Not full: going away; the next instance will do.
    reason = "DRAINING"
    retry_after_s = 0.0


class ClientTooSlow(BridgeError):
    """The client did not send what the bridge waits for in time (its config)."""

    grpc_code = grpc.StatusCode.DEADLINE_EXCEEDED
    reason = "DEADLINE_EXCEEDED"


class UpstreamError(BridgeError):
    """LiveAvatar failed or answered something the bridge cannot use."""

    grpc_code = grpc.StatusCode.UNAVAILABLE
    reason = "UPSTREAM_ERROR"


class UpstreamRejected(UpstreamError):
    """LiveAvatar refused a request with a 4xx status; its own message is kept."""

    reason = "UPSTREAM_REJECTED"

    def __init__(
        self,
        message: str,
        *,
        http_status: int,
        upstream_code: int | None,
        upstream_message: str = "",
    ) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.upstream_code = upstream_code
        # Classify on LiveAvatar's own words only, never on our wording or the request path.
        self.grpc_code = _code_for_rejection(http_status, upstream_message)


class UpstreamUnavailable(UpstreamError):
    """LiveAvatar could not be reached, timed out, or kept failing with 5xx."""

    grpc_code = grpc.StatusCode.UNAVAILABLE
    reason = "UPSTREAM_UNAVAILABLE"


class UpstreamOutcomeUnknown(UpstreamUnavailable):
    """A request that may have created or started a session got no answer: never retried."""

    reason = "UPSTREAM_OUTCOME_UNKNOWN"


class UpstreamTimeout(UpstreamError):
    """An upstream session never became ready in time."""

    grpc_code = grpc.StatusCode.DEADLINE_EXCEEDED
    reason = "UPSTREAM_TIMEOUT"


class UpstreamProtocolError(UpstreamError):
    """LiveAvatar answered with a body that breaks its documented shape."""

    grpc_code = grpc.StatusCode.INTERNAL
    reason = "UPSTREAM_PROTOCOL_ERROR"


class UpstreamClosed(UpstreamError):
    """The upstream connection (WebSocket or LiveKit room) closed unexpectedly."""

    grpc_code = grpc.StatusCode.UNAVAILABLE
    reason = "UPSTREAM_CLOSED"

    def __init__(
        self, message: str, *, close_code: int | None = None, close_reason: str = ""
    ) -> None:
        super().__init__(message)
        self.close_code = close_code
        self.close_reason = close_reason


def handshake_refused(what: str, http_status: int) -> UpstreamError:
    """The error for a WebSocket handshake answered with an HTTP status instead of 101.

    The code says whether a retry can help: 403 (and 401) PERMISSION_DENIED, 404 NOT_FOUND,
    429 RESOURCE_EXHAUSTED, any other 4xx FAILED_PRECONDITION (a session not started or already
    ended); only 5xx is UNAVAILABLE.
    """
    message = f"{what} refused the WebSocket handshake with HTTP {http_status}"
    if http_status >= 500:
        return UpstreamUnavailable(f"{message}: retry later")
    error = UpstreamRejected(message, http_status=http_status, upstream_code=None)
    error.grpc_code = _HANDSHAKE_CODES.get(http_status, grpc.StatusCode.FAILED_PRECONDITION)
    return error


_HANDSHAKE_CODES = {
    401: grpc.StatusCode.PERMISSION_DENIED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
}


def _code_for_rejection(http_status: int, message: str) -> grpc.StatusCode:
    """Map a LiveAvatar 4xx to a gRPC code, once, in one place."""
    if "credit" in message.lower() or http_status == 402:
        return grpc.StatusCode.RESOURCE_EXHAUSTED
    mapping = {
        400: grpc.StatusCode.INVALID_ARGUMENT,
        401: grpc.StatusCode.UNAUTHENTICATED,
        403: grpc.StatusCode.PERMISSION_DENIED,
        404: grpc.StatusCode.NOT_FOUND,
        409: grpc.StatusCode.FAILED_PRECONDITION,
        422: grpc.StatusCode.INVALID_ARGUMENT,
        429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    }
    return mapping.get(http_status, grpc.StatusCode.FAILED_PRECONDITION)
