"""Two bridges (or two workers) opening one fresh state directory at once both get a journal.

SQLite answers a journal-mode change with "database is locked" at once, busy timeout or not,
while another connection holds a write lock: seen as a worker exiting 1 at start about once in
75 simultaneous opens. Here the neighbour's write lock is held on purpose, so the race is certain.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

from avatar_bridge.journal.sqlite import SqliteJournal


async def test_open_waits_out_a_neighbours_write_lock(tmp_path: Path) -> None:
    neighbour = sqlite3.connect(
        tmp_path / "sessions.sqlite3", isolation_level=None, check_same_thread=False
    )
    neighbour.execute("CREATE TABLE IF NOT EXISTS scratch (a)")
    neighbour.execute("BEGIN IMMEDIATE")  # A write lock, as a neighbour creating the schema.
    released = threading.Event()

    def release() -> None:
        neighbour.execute("COMMIT")
        released.set()

    timer = threading.Timer(0.3, release)
    timer.start()
    journal = SqliteJournal(tmp_path)
    try:
        assert await journal.open() == []
        assert released.is_set()  # It really waited for the lock rather than skipping WAL.
        await journal.record_intent("intent-1")
        with sqlite3.connect(tmp_path / "sessions.sqlite3") as db:
            assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
            rows = db.execute("SELECT intent_id FROM owned_sessions").fetchall()
        assert rows == [("intent-1",)]
    finally:
        timer.join()
        await journal.close()
        neighbour.close()


async def test_two_journals_opened_together_both_open(tmp_path: Path) -> None:
    first, second = SqliteJournal(tmp_path, owner="a"), SqliteJournal(tmp_path, owner="b")
    try:
        assert await asyncio.gather(first.open(), second.open()) == [[], []]
    finally:
        await first.close()
        await second.close()
