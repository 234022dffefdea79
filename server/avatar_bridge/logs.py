"""Structured logging: one JSON object per line, per session rather than per chunk.

Secrets never reach a log line: the code never formats keys or tokens into messages, and a
filter scrubs registered secrets from every record as a second line of defence.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Any

from avatar_bridge.security.principal import ANONYMOUS, current_principal

_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object: time, level, logger, message and any `extra` fields."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            # The scrubber pre-renders (and scrubs) the traceback into exc_text.
            payload["exception"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


_SECRET_PATTERNS = (
    # JWTs: LiveAvatar session tokens and LiveKit access tokens.
    (re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), "[redacted-jwt]"),
    # Caller keys made by `avatar-bridge hash-key`.
    (re.compile(r"abk_[A-Za-z0-9_-]{16,}"), "[redacted-key]"),
    (re.compile(r"(?i)(bearer\s+)[^\s\"',]+"), r"\1[redacted]"),
    # A session's ws_url carries its access token in the path or query; keep only the host.
    (re.compile(r"(wss?://[^\s/\"'?#]+)[/?#][^\s\"']*"), r"\1/[redacted]"),
)


class SecretScrubber(logging.Filter):
    """Replaces registered secret strings, and anything shaped like a token, key or ws_url
    path, in a record's message and extra fields."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()

    def add(self, secret: str) -> None:
        # Very short strings would scrub ordinary words; real keys and tokens are long.
        if len(secret) >= 8:
            self._secrets.add(secret)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        scrubbed = self._scrub(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        for key, value in list(vars(record).items()):
            if key not in _STANDARD_ATTRS and isinstance(value, str):
                setattr(record, key, self._scrub(value))
        if record.exc_info and not record.exc_text:
            # Exception messages can quote URLs and tokens too.
            record.exc_text = self._scrub(logging.Formatter().formatException(record.exc_info))
        return True

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, "[redacted]")
        for pattern, replacement in _SECRET_PATTERNS:
            text = pattern.sub(replacement, text)
        return text


class PrincipalFilter(logging.Filter):
    """Adds the calling principal to records logged while serving an authenticated call."""

    def filter(self, record: logging.LogRecord) -> bool:
        principal = current_principal()
        if principal is not ANONYMOUS and not hasattr(record, "principal"):
            record.principal = principal.name
        return True


scrubber = SecretScrubber()
"""The process-wide scrubber; register every secret the process learns with `scrubber.add`."""


def configure(level: str = "info", fmt: str = "json") -> None:
    """Set up the root logger once for the server process."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    handler.addFilter(PrincipalFilter())
    handler.addFilter(scrubber)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Libraries log per request or per frame at INFO; keep them to warnings.
    for noisy in (
        "httpx",
        "httpcore",
        "websockets",
        "uvicorn.access",
        "aioice",
        "aiortc",
        "livekit",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)
