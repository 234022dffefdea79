"""Pick the journal backend from the server configuration."""

from __future__ import annotations

from avatar_bridge.journal.base import Journal, MemoryJournal
from avatar_bridge.journal.owner import process_owner


def open_journal(
    *, state_dir: str, redis_url: str, replica_id: str = "", lease_s: float = 15.0
) -> Journal:
    """Redis when a URL is given, else SQLite in `state_dir`, else memory (no crash safety)."""
    if redis_url:
        from avatar_bridge.journal.redis import RedisJournal

        return RedisJournal(redis_url, replica_id or process_owner(), lease_s=lease_s)
    if state_dir:
        from avatar_bridge.journal.sqlite import SqliteJournal

        return SqliteJournal(state_dir, replica_id or None)
    return MemoryJournal()
