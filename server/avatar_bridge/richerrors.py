"""Error statuses with google.rpc.Status details (grpc-status-details-bin).

Every status the bridge ends a call with carries ErrorInfo (reason = BridgeError.reason, domain
"avatarbridge.v1", metadata); BadRequest lists every field violation of a config; QuotaFailure
and RetryInfo say which limit refused a call and when a retry may succeed. Clients read them
with grpcio-status (`rpc_status.from_call`) or any language's google.rpc helpers.
"""

from __future__ import annotations

import math
from typing import Any

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import (  # type: ignore[import-untyped]  # no stubs for googleapis protos
    code_pb2,
    error_details_pb2,
    status_pb2,
)
from grpc_status import rpc_status

from avatar_bridge.errors import BridgeError, InvalidRequest, LimitExceeded

DOMAIN = "avatarbridge.v1"
"""ErrorInfo.domain of every error the bridge itself raises."""


def status_of(error: BridgeError) -> grpc.Status:
    """The grpc.Status for `error`: its code and message, with the details it warrants."""
    details: list[Any] = [
        error_details_pb2.ErrorInfo(reason=error.reason, domain=DOMAIN, metadata=error.metadata)
    ]
    if isinstance(error, InvalidRequest):
        details.append(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(field=field, description=text)
                    for field, text in error.violations
                ]
            )
        )
    if isinstance(error, LimitExceeded):
        details.append(
            error_details_pb2.QuotaFailure(
                violations=[
                    error_details_pb2.QuotaFailure.Violation(
                        subject=error.subject or "server", description=error.message
                    )
                ]
            )
        )
    if error.retry_after_s is not None:
        whole = math.ceil(error.retry_after_s)
        details.append(
            error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=whole))
        )
    packed = []
    for detail in details:
        holder = any_pb2.Any()
        holder.Pack(detail)
        packed.append(holder)
    code: int = error.grpc_code.value[0]
    status = status_pb2.Status(code=code, message=error.message, details=packed)
    assert code_pb2.Code.Name(code)  # A canonical code, as google.rpc.Status requires.
    return rpc_status.to_status(status)


async def abort(context: grpc.aio.ServicerContext[Any, Any], error: BridgeError) -> None:
    """End the call with `error`'s status and its details (raises, like context.abort)."""
    status = status_of(error)
    await context.abort(status.code, status.details, status.trailing_metadata)
