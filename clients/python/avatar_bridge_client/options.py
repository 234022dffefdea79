"""Client options: where the bridge is and how to call it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

__all__ = ["DEFAULT_TARGET", "ClientOptions"]

DEFAULT_TARGET = "localhost:50051"

# The bridge accepts requests up to 1 MiB of audio plus envelope (see the proto's limits).
_MAX_MESSAGE_BYTES = 1_114_112


@dataclass(frozen=True, slots=True)
class ClientOptions:
    """How to reach and call an avatar bridge. Immutable; derive variants with ``replace``."""

    target: str = DEFAULT_TARGET
    """``host:port`` of the bridge (any gRPC target string)."""

    tls: bool = False
    """Use TLS; plaintext otherwise (the bridge usually sits on localhost or behind a proxy)."""

    root_certificates: bytes | None = None
    """PEM roots for TLS; None takes the system's."""

    certificate_chain: bytes | None = None
    """PEM client certificate for a bridge that requires mutual TLS (with ``private_key``)."""

    private_key: bytes | None = field(default=None, repr=False)
    """PEM private key of ``certificate_chain``."""

    api_key: str = field(default="", repr=False)
    """The caller's key, sent as ``authorization: Bearer <key>`` with every call."""

    metadata: tuple[tuple[str, str], ...] = ()
    """Metadata sent with every call, such as ``(("x-request-source", "ivr"),)``."""

    rpc_timeout: float | None = 30.0
    """Seconds allowed for a unary call (StopSession, ListSessions); None waits forever."""

    close_timeout: float = 30.0
    """Seconds a conversation may take to end after half-close before it is cancelled."""

    wait_for_ready: bool = False
    """Queue calls while the channel connects instead of failing fast with UNAVAILABLE."""

    channel_options: tuple[tuple[str, int | str], ...] = ()
    """Extra grpc channel arguments, appended after the library's own."""

    default: ClassVar[ClientOptions]

    def grpc_channel_options(self) -> list[tuple[str, int | str]]:
        """The channel arguments for ``grpc.aio.*_channel``."""
        return [
            ("grpc.max_send_message_length", _MAX_MESSAGE_BYTES),
            ("grpc.max_receive_message_length", 16 * 1024 * 1024),
            *self.channel_options,
        ]


ClientOptions.default = ClientOptions()
