"""Registers AvatarBridgeService with a Converse request decoder that never raises.

grpc's own handling of a request it cannot deserialize is wrong for a conversation: the first
message ends the call UNKNOWN ("Unexpected DecodeError") with a logged traceback, a later one
surfaces as a failed read. Here the decoder returns an `Undecodable` in place of the request, so
Converse sees it where it reads and ends the call INVALID_ARGUMENT naming the problem.

The handlers are built from the service descriptor (same methods, same serializers as the
generated `add_AvatarBridgeServiceServicer_to_server`), so a method added to the proto is
registered without an edit here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.message import DecodeError, Message
from google.protobuf.message_factory import GetMessageClass

from avatarbridge.v1 import avatar_bridge_pb2 as pb

SERVICE = pb.DESCRIPTOR.services_by_name["AvatarBridgeService"]


@dataclass(frozen=True)
class Undecodable:
    """A request message that is not a valid ConverseRequest encoding."""

    size: int
    """Bytes received."""
    error: str
    """The protobuf decoder's complaint."""

    def describe(self, which: str) -> str:
        """The INVALID_ARGUMENT message; `which` names the request ("the first request")."""
        return (
            f"{which} ({self.size} bytes) is undecodable: {self.error}; expected a serialized "
            "avatarbridge.v1.ConverseRequest"
        )


def decode_converse_request(data: bytes) -> pb.ConverseRequest | Undecodable:
    """Decode one Converse request; never raises."""
    try:
        return pb.ConverseRequest.FromString(data)
    except DecodeError as exc:
        return Undecodable(len(data), str(exc) or "DecodeError")
    except Exception as exc:  # The C decoder may raise other errors on hostile input.
        return Undecodable(len(data), type(exc).__name__)


_DECODERS: dict[str, Callable[[bytes], Any]] = {"Converse": decode_converse_request}
"""Methods whose requests use a decoder of ours instead of FromString."""


def add_service(servicer: object, server: grpc.aio.Server) -> None:
    """Register every AvatarBridgeService method of `servicer` on `server`."""
    handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}
    for method in SERVICE.methods:
        request_class: type[Message] = GetMessageClass(method.input_type)
        response_class: type[Message] = GetMessageClass(method.output_type)
        behaviour = getattr(servicer, method.name)
        decode = _DECODERS.get(method.name, request_class.FromString)
        encode = response_class.SerializeToString
        factory = _handler_factory(method.client_streaming, method.server_streaming)
        handlers[method.name] = factory(
            behaviour, request_deserializer=decode, response_serializer=encode
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
