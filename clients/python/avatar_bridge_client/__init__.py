"""Python client library for avatar-bridge (``avatarbridge.v1.AvatarBridgeService``).

Example::

    from avatar_bridge_client import AvatarBridgeClient, lite_session

    async with AvatarBridgeClient("localhost:50051") as client:
        async with client.converse(lite_session(sandbox=True)) as conv:
            await conv.send_audio(pcm_24k_mono, request_id="hello")
            await conv.speak_end()
            async for event in conv.events():
                if event.HasField("avatar_speak_ended"):
                    break
"""

from .builders import (
    SANDBOX_AVATAR_ID,
    attach_full,
    attach_lite,
    audio_format,
    bridge_options,
    full_session,
    lite_session,
)
from .client import AvatarBridgeClient
from .conversation import Conversation, ConversationOpener
from .errors import BridgeError, BridgeRPCError, ConversationClosedError
from .options import DEFAULT_TARGET, ClientOptions
from .output import event_kind, format_event
from .pacing import Clock, SystemClock, send_paced_audio
from .wav import WavAudio, WavError, load_wav, read_wav

__all__ = [
    "DEFAULT_TARGET",
    "SANDBOX_AVATAR_ID",
    "AvatarBridgeClient",
    "BridgeError",
    "BridgeRPCError",
    "ClientOptions",
    "Clock",
    "Conversation",
    "ConversationClosedError",
    "ConversationOpener",
    "SystemClock",
    "WavAudio",
    "WavError",
    "attach_full",
    "attach_lite",
    "audio_format",
    "bridge_options",
    "event_kind",
    "format_event",
    "full_session",
    "lite_session",
    "load_wav",
    "read_wav",
    "send_paced_audio",
]
