"""Offline stand-in for LiveAvatar (HeyGen): REST API, LITE WebSocket, inspection API."""

from .app import create_app
from .config import EmulatorConfig
from .runner import Emulator
from .sessions import FullBackend, Session, SessionRegistry

__all__ = ["Emulator", "EmulatorConfig", "FullBackend", "Session", "SessionRegistry", "create_app"]
