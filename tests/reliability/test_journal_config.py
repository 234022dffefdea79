"""Which journal a configuration gets: flags over environment, SQLite by default with a real key."""

from __future__ import annotations

import argparse
from pathlib import Path

from avatar_bridge import config as config_module
from avatar_bridge.journal import MemoryJournal, open_journal
from avatar_bridge.journal.redis import RedisJournal
from avatar_bridge.journal.sqlite import SqliteJournal


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    config_module.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_real_key_defaults_to_sqlite_under_xdg_state_home(tmp_path: Path) -> None:
    env = {"LIVEAVATAR_API_KEY": "k", "XDG_STATE_HOME": str(tmp_path)}
    config = config_module.from_sources(parse(), env)
    assert config.state_dir == str(tmp_path / "avatar-bridge")
    journal = open_journal(state_dir=config.state_dir, redis_url=config.redis_url)
    assert isinstance(journal, SqliteJournal)
    assert journal.path == tmp_path / "avatar-bridge" / "sessions.sqlite3"


def test_embedded_emulator_is_not_journaled() -> None:
    # The emulator runs only when asked for (issue 8's "no silent fake").
    config = config_module.from_sources(parse("--emulator"), {})
    assert config.state_dir == ""
    assert isinstance(open_journal(state_dir="", redis_url=""), MemoryJournal)


def test_flag_wins_over_environment_and_redis_wins_over_sqlite(tmp_path: Path) -> None:
    env = {
        "LIVEAVATAR_API_KEY": "k",
        "AVATAR_BRIDGE_STATE_DIR": "/from/env",
        "AVATAR_BRIDGE_REDIS_URL": "redis://127.0.0.1:1/0",
        "AVATAR_BRIDGE_LEASE_S": "7.5",
    }
    config = config_module.from_sources(parse("--state-dir", str(tmp_path)), env)
    assert config.state_dir == str(tmp_path)
    assert config.lease_s == 7.5
    assert "redis://" not in repr(config)  # The URL may hold a password.
    journal = open_journal(
        state_dir=config.state_dir, redis_url=config.redis_url, replica_id="r1", lease_s=7.5
    )
    assert isinstance(journal, RedisJournal)
    assert journal.owner == "r1"
    assert journal.heartbeat_s == 2.5
