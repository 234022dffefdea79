"""Collect everything a caller or an operator can read (logs, status messages, events) and
look for secrets in it."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from avatar_bridge import logs
from avatarbridge.v1 import avatar_bridge_pb2 as pb

JWT = re.compile(r"eyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*")
"""Session tokens and LiveKit tokens are JWTs."""
WS_URL_PATH = re.compile(r"wss?://[^\s\"'/]+/(?!\[redacted\])[^\s\"']+")
"""A ws_url carries its access token in its path or query."""
CALLER_KEY = re.compile(r"abk_[\w-]{16,}")


@dataclass
class Leaks:
    """What the bridge showed: its log output, the status messages and the events."""

    log: io.StringIO = field(default_factory=io.StringIO)
    texts: list[str] = field(default_factory=list)

    def status(self, code: object, details: str) -> None:
        self.texts.append(f"status {code}: {details}")

    def events(self, events: list[pb.ConverseResponse]) -> None:
        for event in events:
            copy = pb.ConverseResponse()
            copy.CopyFrom(event)
            if copy.HasField("session_started"):
                # By design: the viewer token is handed to the session's own caller (README).
                copy.session_started.livekit_client_token = ""
            self.texts.append(str(copy))

    def findings(self, secrets: list[str]) -> list[str]:
        found: list[str] = []
        for where, text in [("log", self.log.getvalue())] + [("reply", t) for t in self.texts]:
            for secret in secrets:
                if secret and secret in text:
                    found.append(f"{where}: secret {secret[:6]}… in {text[:200]!r}")
            for pattern in (JWT, WS_URL_PATH, CALLER_KEY):
                for match in pattern.finditer(text):
                    found.append(f"{where}: {pattern.pattern[:12]} {match.group(0)[:40]!r}")
        return found


@contextmanager
def captured_debug_logs() -> Iterator[Leaks]:
    """The server's own log configuration at debug level, writing into a buffer."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    leaks = Leaks()
    logs.configure("debug", "json")
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(leaks.log)
    try:
        yield leaks
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
