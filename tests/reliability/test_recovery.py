"""Startup recovery, in-process: what a dead run left in the journal is stopped or reported."""

from __future__ import annotations

import asyncio
import logging
import socket
import sqlite3
import time
from pathlib import Path

import pytest
from conftest import API_KEY  # tests/conftest.py
from server.helpers import SANDBOX_AVATAR_ID, Inspector

from avatar_bridge.config import ServerConfig
from avatar_bridge.liveavatar.rest import LiveAvatarClient, RestConfig
from avatar_bridge.server import BridgeServer
from liveavatar_emulator import Emulator

SCHEMA = (
    "CREATE TABLE owned_sessions (intent_id TEXT PRIMARY KEY, session_id TEXT NOT NULL "
    "DEFAULT '', owner TEXT NOT NULL, created_at REAL NOT NULL)"
)


async def dead_owner() -> str:
    """The owner id of a process that has exited (as the journal writes it: host:pid:start)."""
    proc = await asyncio.create_subprocess_exec("true")
    await proc.wait()
    return f"{socket.gethostname()}:{proc.pid}:0"


async def test_restart_stops_journaled_sessions_and_reports_unknown_intents(
    emulator: Emulator, inspector: Inspector, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="avatar_bridge.registry")
    async with LiveAvatarClient(RestConfig(api_key=API_KEY, base_url=emulator.base_url)) as la:
        token = await la.create_token({"mode": "LITE", "avatar_id": SANDBOX_AVATAR_ID})
        await la.start_session(token)
    owner = await dead_owner()
    with sqlite3.connect(tmp_path / "sessions.sqlite3") as db:
        db.execute(SCHEMA)
        db.execute(
            "INSERT INTO owned_sessions VALUES (?, ?, ?, ?)",
            ("intent-started", token.session_id, owner, time.time()),
        )
        db.execute(
            "INSERT INTO owned_sessions VALUES (?, '', ?, ?)",
            ("intent-unanswered", owner, time.time()),
        )

    config = ServerConfig(
        listen="127.0.0.1:0", api_url=emulator.base_url, api_key=API_KEY, state_dir=str(tmp_path)
    )
    server = BridgeServer(config)
    await server.start()
    try:
        detail = await inspector.wait_ended(token.session_id)
    finally:
        await server.stop(grace_s=5.0)

    assert detail["status"] == "ended"
    assert detail["end_reason"] == "USER_CLOSED"
    messages = [r.getMessage() for r in caplog.records]
    assert "recovering an orphaned upstream session" in messages
    unknown = [r for r in caplog.records if "whose id was never learned" in r.getMessage()]
    assert [r.__dict__["intent"] for r in unknown] == ["intent-unanswered"]
    with sqlite3.connect(tmp_path / "sessions.sqlite3") as db:
        assert db.execute("SELECT COUNT(*) FROM owned_sessions").fetchone()[0] == 0
