"""The default journal: one SQLite file in the state directory.

SQLite runs on one dedicated thread, so the event loop never waits on the disk. WAL mode with
synchronous=NORMAL: a committed entry survives the bridge process crashing or being killed (what
this journal is for); only a power loss of the host may drop the last commits.

Several bridges on one host may share a state directory: each entry names its owner process
(host, pid, start time); `open`, and then `maintain` every 30 s, adopt only entries whose owner
process is gone.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from avatar_bridge.journal.base import Entry
from avatar_bridge.journal.owner import owner_alive, process_owner

T = TypeVar("T")

FILE_NAME = "sessions.sqlite3"
BUSY_TIMEOUT_S = 10.0
"""How long a statement waits for another process's lock on the file."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS owned_sessions (
    intent_id  TEXT PRIMARY KEY,
    session_id TEXT NOT NULL DEFAULT '',
    owner      TEXT NOT NULL,
    created_at REAL NOT NULL
)
"""


class SqliteJournal:
    """Owned sessions in `<state_dir>/sessions.sqlite3`."""

    heartbeat_s: float | None = 30.0
    """How often to look for entries of a neighbour bridge that died (a shared state dir)."""

    def __init__(self, state_dir: str | Path, owner: str | None = None) -> None:
        self.path = Path(state_dir) / FILE_NAME
        self.owner = owner or process_owner()
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="journal-sqlite")
        self._db: sqlite3.Connection | None = None

    async def open(self) -> list[Entry]:
        return await self._run(self._open)

    async def record_intent(self, intent_id: str) -> None:
        await self._write(
            "INSERT OR REPLACE INTO owned_sessions VALUES (?, '', ?, ?)",
            (intent_id, self.owner, time.time()),
        )

    async def record_session(self, intent_id: str, session_id: str) -> None:
        await self._write(
            "INSERT INTO owned_sessions VALUES (?, ?, ?, ?) "
            "ON CONFLICT(intent_id) DO UPDATE SET session_id = excluded.session_id",
            (intent_id, session_id, self.owner, time.time()),
        )

    async def forget(self, intent_id: str) -> None:
        await self._write("DELETE FROM owned_sessions WHERE intent_id = ?", (intent_id,))

    async def maintain(self) -> list[Entry]:
        return await self._run(lambda: self._adopt(self._connection(), at_open=False))

    async def close(self) -> None:
        if self._db is not None:
            await self._run(self._db.close)
            self._db = None
        self._thread.shutdown(wait=False)

    async def _write(self, sql: str, params: tuple[object, ...]) -> None:
        def write() -> None:
            db = self._connection()
            with db:
                db.execute(sql, params)

        await self._run(write)

    async def _run(self, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, work)

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("the SQLite journal is not open")
        return self._db

    def _open(self) -> list[Entry]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        _enable_wal(db)
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(_SCHEMA)
        db.isolation_level = "IMMEDIATE"  # `with db:` takes the write lock up front.
        self._db = db
        return self._adopt(db, at_open=True)

    def _adopt(self, db: sqlite3.Connection, *, at_open: bool) -> list[Entry]:
        with db:
            rows = db.execute(
                "SELECT intent_id, session_id, owner, created_at FROM owned_sessions"
            ).fetchall()
            # At open, entries under this very owner come from an earlier life of a fixed id.
            dead = [
                row
                for row in rows
                if (row[2] == self.owner and at_open)
                or (row[2] != self.owner and not owner_alive(row[2]))
            ]
            # Keep only the rows this UPDATE really moved: a neighbour may adopt them first.
            taken = [
                row
                for row in dead
                if db.execute(
                    "UPDATE owned_sessions SET owner = ? WHERE intent_id = ? AND owner = ?",
                    (self.owner, row[0], row[2]),
                ).rowcount
                == 1
            ]
        return [Entry(str(r[0]), str(r[1]), str(r[2]), float(r[3])) for r in taken]


def _enable_wal(db: sqlite3.Connection) -> None:
    """Switch to WAL, waiting out a neighbour's write lock.

    SQLite refuses a journal-mode change at once ("database is locked"), without its busy
    timeout, while another connection holds a write lock: two workers opening one fresh state
    directory together hit it. Retry for as long as the busy timeout would have waited.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(0.02)  # On the journal's own thread, never the event loop.
