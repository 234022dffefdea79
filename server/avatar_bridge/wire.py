"""Registers AvatarBridgeService with request decoders that never raise.

grpc's own handling of a request it cannot deserialize is wrong for a conversation: the first
message ends the call UNKNOWN ("Unexpected DecodeError") with a logged traceback, a later one
surfaces as a failed read (and a unary method answers UNKNOWN). Here the decoder returns an
`Undecodable` in place of the request, so Converse sees it where it reads and ends the call
INVALID_ARGUMENT naming the problem; a unary method is answered the same way before it runs.

The handlers are built from the service descriptor (same methods, same serializers as the
generated `add_AvatarBridgeServiceServicer_to_server`), so a method added to the proto is
registered without an edit here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.message import DecodeError, Message
from google.protobuf.message_factory import GetMessageClass

from avatarbridge.v1 import avatar_bridge_pb2 as pb

SERVICE = pb.DESCRIPTOR.services_by_name["AvatarBridgeService"]


@dataclass(frozen=True)
class Undecodable:
    """A request message that is not a valid encoding of its type."""

    size: int
    """Bytes received."""
    error: str
    """The protobuf decoder's complaint."""

    def describe(self, which: str, request_type: str = "avatarbridge.v1.ConverseRequest") -> str:
        """The INVALID_ARGUMENT message; `which` names the request ("the first request")."""
        return (
            f"{which} ({self.size} bytes) is undecodable: {self.error}; expected a serialized "
            f"{request_type}"
        )


def _decoder(request_class: type[Message]) -> Callable[[bytes], Message | Undecodable]:
    """A request deserializer that never raises."""

    def decode(data: bytes) -> Message | Undecodable:
        try:
            return request_class.FromString(data)
        except DecodeError as exc:
            return Undecodable(len(data), str(exc) or "DecodeError")
        except Exception as exc:  # The C decoder may raise other errors on hostile input.
            return Undecodable(len(data), type(exc).__name__)

    return decode


def _refusing_undecodable(
    behaviour: Callable[..., Awaitable[Any]], request_type: str
) -> Callable[..., Awaitable[Any]]:
    """A unary-request method that answers an undecodable request INVALID_ARGUMENT."""

    async def guarded(request: object, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        if isinstance(request, Undecodable):
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, request.describe("the request", request_type)
            )
        return await behaviour(request, context)

    return guarded


def add_service(servicer: object, server: grpc.aio.Server) -> None:
    """Register every AvatarBridgeService method of `servicer` on `server`.

    Every request decoder returns `Undecodable` instead of raising; a streaming method
    (Converse) checks for it where it reads, a unary one is answered INVALID_ARGUMENT here.
    """
    handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}
    for method in SERVICE.methods:
        request_class: type[Message] = GetMessageClass(method.input_type)
        response_class: type[Message] = GetMessageClass(method.output_type)
        behaviour = getattr(servicer, method.name)
        if not method.client_streaming:
            behaviour = _refusing_undecodable(behaviour, method.input_type.full_name)
        factory = _handler_factory(method.client_streaming, method.server_streaming)
        handlers[method.name] = factory(
            behaviour,
            request_deserializer=_decoder(request_class),
            response_serializer=response_class.SerializeToString,
        )
    generic = grpc.method_handlers_generic_handler(SERVICE.full_name, handlers)
    server.add_generic_rpc_handlers((generic,))
    server.add_registered_method_handlers(SERVICE.full_name, handlers)


def _handler_factory(client_streaming: bool, server_streaming: bool) -> Any:
    if client_streaming and server_streaming:
        return grpc.stream_stream_rpc_method_handler
    if client_streaming:
        return grpc.stream_unary_rpc_method_handler
    if server_streaming:
        return grpc.unary_stream_rpc_method_handler
    return grpc.unary_unary_rpc_method_handler
