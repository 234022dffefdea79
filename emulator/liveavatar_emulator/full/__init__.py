"""FULL mode of the LiveAvatar emulator: a minimal LiveKit-compatible server plus the emulated
avatar (``heygen``) and agent (``liveavatar-agent-<session_id>``) participants.

Entry point: :class:`LiveKitFullBackend` (see ``backend.py``), configured by
:class:`FullModeConfig`.
"""

from .agent import AVATAR_IDENTITY, SessionAgent, agent_identity
from .backend import CLIENT_IDENTITY, LiveKitFullBackend
from .config import FullModeConfig
from .session import FullSession
from .sfu.server import LiveKitServer

__all__ = [
    "AVATAR_IDENTITY",
    "CLIENT_IDENTITY",
    "FullModeConfig",
    "FullSession",
    "LiveKitFullBackend",
    "LiveKitServer",
    "SessionAgent",
    "agent_identity",
]
