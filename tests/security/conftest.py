"""Fixtures for the security tests: certificates, an auth file, and a bridge built from a
SecurityConfig, in front of the in-process emulator (tests/conftest.py's `emulator`)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import API_KEY  # tests/conftest.py

from avatar_bridge.config import SecurityConfig, ServerConfig
from avatar_bridge.security.keys import hash_key
from avatar_bridge.server import BridgeServer
from liveavatar_emulator import Emulator

from .certs import CertFiles, write_set

# Caller keys, written literally: what a client would be given.
TALKER_KEY = "abk_talker-0123456789abcdefghijklmnop"
OPERATOR_KEY = "abk_operator-0123456789abcdefghijklmn"
BOTH_KEY = "abk_both-0123456789abcdefghijklmnopqrs"
LIMITED_KEY = "abk_limited-0123456789abcdefghijklmno"


def auth_toml(entries: dict[str, dict[str, Any]]) -> str:
    """An auth file: {principal: {"roles": [...], "keys": [plain keys], quota fields}}."""
    lines: list[str] = []
    for name, entry in entries.items():
        lines.append(f'[principals."{name}"]')
        lines.append("roles = [" + ", ".join(f'"{r}"' for r in entry.get("roles", [])) + "]")
        hashes = [hash_key(k) for k in entry.get("keys", [])]
        lines.append("keys = [" + ", ".join(f'"{h}"' for h in hashes) + "]")
        for field in ("max_conversations", "starts_per_minute"):
            if field in entry:
                lines.append(f"{field} = {entry[field]}")
    return "\n".join(lines) + "\n"


DEFAULT_PRINCIPALS: dict[str, dict[str, Any]] = {
    "talker": {"roles": ["converse"], "keys": [TALKER_KEY]},
    "operator": {"roles": ["operate"], "keys": [OPERATOR_KEY]},
    "both": {"roles": ["converse", "operate"], "keys": [BOTH_KEY]},
    "limited": {
        "roles": ["converse"],
        "keys": [LIMITED_KEY],
        "max_conversations": 1,
        "starts_per_minute": 2,
    },
    "ops.example.com": {"roles": ["operate"]},
}


@pytest.fixture
def certs(tmp_path: Path) -> CertFiles:
    return write_set(tmp_path)


@pytest.fixture
def auth_file(tmp_path: Path) -> Path:
    path = tmp_path / "auth.toml"
    path.write_text(auth_toml(DEFAULT_PRINCIPALS))
    return path


@dataclass
class Running:
    server: BridgeServer
    target: str


StartBridge = Callable[..., contextlib.AbstractAsyncContextManager[Running]]


@pytest.fixture
def start_bridge(emulator: Emulator) -> StartBridge:
    """`async with start_bridge(**SecurityConfig fields) as running:` a bridge on a free port."""

    @contextlib.asynccontextmanager
    async def start(api_key: str = API_KEY, **security: Any) -> AsyncIterator[Running]:
        config = ServerConfig(
            listen="127.0.0.1:0",
            api_url=emulator.base_url,
            api_key=api_key,
            shutdown_grace_s=5.0,
            security=SecurityConfig(**security),
        )
        server = BridgeServer(config)
        port = await server.start()
        try:
            yield Running(server, f"127.0.0.1:{port}")
        finally:
            await server.stop(grace_s=5.0)

    return start
