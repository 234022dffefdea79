"""Errors raised by the client library.

::

    BridgeError                   base class of everything raised on purpose
    ├── BridgeRPCError            the call ended with a non-OK gRPC status
    └── ConversationClosedError   a request on a conversation that was half-closed or has ended
"""

from __future__ import annotations

import importlib

import grpc
from google.protobuf.message import DecodeError, Message

__all__ = ["BridgeError", "BridgeRPCError", "ConversationClosedError"]

_STATUS_DETAILS_KEY = "grpc-status-details-bin"


class BridgeError(Exception):
    """Base class of the errors this library raises."""


class BridgeRPCError(BridgeError):
    """A gRPC call to the bridge ended with a non-OK status.

    Attributes:
        code: the canonical gRPC status code, such as ``grpc.StatusCode.INVALID_ARGUMENT``.
        details: the server's message, which names the problem and what is expected.
        trailing_metadata: the call's trailing metadata, as (key, value) pairs.
    """

    def __init__(
        self,
        code: grpc.StatusCode,
        details: str,
        trailing_metadata: tuple[tuple[str, str | bytes], ...] = (),
    ) -> None:
        super().__init__(f"{code.name}: {details}" if details else code.name)
        self.code = code
        self.details = details
        self.trailing_metadata = trailing_metadata

    @classmethod
    def from_aio_rpc_error(cls, error: grpc.aio.AioRpcError) -> BridgeRPCError:
        """Wrap a grpc.aio error."""
        metadata = tuple((k, v) for k, v in (error.trailing_metadata() or ()))
        return cls(error.code(), error.details() or "", metadata)

    @property
    def status_details(self) -> Message | None:
        """The ``google.rpc.Status`` the server attached, if any and if googleapis-common-protos
        is installed; parsed on first use (its ``details`` may hold an ``ErrorInfo``)."""
        raw = next((v for k, v in self.trailing_metadata if k == _STATUS_DETAILS_KEY), None)
        if not isinstance(raw, bytes):
            return None
        try:
            # Optional dependency (googleapis-common-protos), and it ships no py.typed.
            status_pb2 = importlib.import_module("google.rpc.status_pb2")
        except ImportError:
            return None
        status: Message = status_pb2.Status()
        try:
            status.ParseFromString(raw)
        except DecodeError:
            return None
        return status


class ConversationClosedError(BridgeError):
    """A request was sent on a conversation that was half-closed or has already ended."""
