"""What a sans-I/O conversation core asks its I/O adapter to do.

A core (LITE or FULL) takes client requests, upstream events and clock ticks, and returns a list
of these actions. The adapter executes them in order: it owns every socket, the core owns every
decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format, struct_pb2

from avatar_bridge.errors import BridgeError
from avatarbridge.v1 import avatar_bridge_pb2 as pb


@dataclass(frozen=True)
class SendUpstream:
    """Send one message upstream (a LITE WebSocket JSON object, a FULL data message)."""

    message: dict[str, Any]


@dataclass(frozen=True)
class PublishAudio:
    """Publish 24 kHz mono PCM16 audio upstream as a media track (FULL)."""

    pcm: bytes


@dataclass(frozen=True)
class ClearAudio:
    """Drop audio queued in the adapter's media track, if any (FULL interrupt)."""


@dataclass(frozen=True)
class Emit:
    """Send one event to the client."""

    response: pb.ConverseResponse


@dataclass(frozen=True)
class Fail:
    """End the call with the error's gRPC status."""

    error: BridgeError


Action = SendUpstream | PublishAudio | ClearAudio | Emit | Fail


def emit(request_id: str = "", **event: Any) -> Emit:
    """Build an Emit from one oneof member, e.g. `emit(warning=pb.Warning(...))`."""
    return Emit(pb.ConverseResponse(request_id=request_id, **event))


def error_event(request_id: str, code: str, message: str, *, upstream: bool = False) -> Emit:
    """An in-stream Error tied to a request."""
    source = pb.ERROR_SOURCE_UPSTREAM if upstream else pb.ERROR_SOURCE_BRIDGE
    return emit(request_id, error=pb.Error(code=code, message=message, source=source))


def passthrough_event(kind: str, event: dict[str, Any]) -> Emit:
    """A LiveAvatar event this API does not model, as LiveAvatar sent it.

    Keys starting with "_" are the transport's own annotations and are left out.
    """
    payload = struct_pb2.Struct()
    public = {k: v for k, v in event.items() if not k.startswith("_")}
    json_format.ParseDict(public, payload, ignore_unknown_fields=True)
    return emit(upstream_event=pb.UpstreamEvent(type=kind, payload=payload))
