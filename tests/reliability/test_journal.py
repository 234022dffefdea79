"""The journal backends on their real stores: a SQLite file shared across processes, and Redis.

Recovery rules under test: entries of a live owner are never taken; entries of a dead process
(SQLite) or of a replica whose lease expired (Redis) are adopted exactly once.
"""

from __future__ import annotations

import asyncio
import sys
import textwrap
from pathlib import Path

from server.helpers import WAIT_S

from avatar_bridge.journal.redis import RedisJournal
from avatar_bridge.journal.sqlite import SqliteJournal

WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from avatar_bridge.journal.sqlite import SqliteJournal

    async def main() -> None:
        journal = SqliteJournal(sys.argv[1])
        await journal.open()
        await journal.record_intent("intent-a")
        await journal.record_session("intent-a", "session-a")
        await journal.record_intent("intent-lost")  # Its token answer never came.
        await journal.record_intent("intent-done")
        await journal.record_session("intent-done", "session-done")
        await journal.forget("intent-done")
        print("ready", flush=True)
        sys.stdin.readline()  # Stay alive until told; then exit without forgetting.

    asyncio.run(main())
    """
)


async def test_sqlite_neighbour_adopts_only_the_entries_of_a_dead_process(tmp_path: Path) -> None:
    writer = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        WRITER,
        str(tmp_path),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert writer.stdin is not None and writer.stdout is not None
    assert await asyncio.wait_for(writer.stdout.readline(), WAIT_S) == b"ready\n"

    neighbour = SqliteJournal(tmp_path)
    assert await neighbour.open() == []  # Its owner still runs: nothing to take.
    assert await neighbour.maintain() == []

    writer.stdin.close()
    assert await asyncio.wait_for(writer.wait(), WAIT_S) == 0

    # The neighbour's periodic upkeep notices the death and adopts what was left.
    adopted = await neighbour.maintain()
    assert sorted((e.intent_id, e.session_id) for e in adopted) == [
        ("intent-a", "session-a"),
        ("intent-lost", ""),
    ]
    assert {e.owner for e in adopted} != {neighbour.owner}
    # Adopted once: a second look, and a fresh start, find nothing to take.
    assert await neighbour.maintain() == []
    fresh = SqliteJournal(tmp_path, owner="another-bridge")  # Same process: another id.
    assert await fresh.open() == []
    await fresh.close()
    await neighbour.forget("intent-a")
    await neighbour.forget("intent-lost")
    await neighbour.close()


async def test_sqlite_fixed_replica_id_recovers_its_own_earlier_life(tmp_path: Path) -> None:
    first = SqliteJournal(tmp_path, owner="bridge-1")
    await first.open()
    await first.record_session("intent-1", "session-1")
    await first.close()  # As after a crash: the entry stays.

    again = SqliteJournal(tmp_path, owner="bridge-1")
    assert [(e.intent_id, e.session_id) for e in await again.open()] == [("intent-1", "session-1")]
    await again.close()


async def test_redis_lease_expiry_hands_entries_to_exactly_one_survivor(redis_url: str) -> None:
    lease_s = 1.0
    doomed = RedisJournal(redis_url, "replica-doomed", lease_s=lease_s)
    survivor = RedisJournal(redis_url, "replica-survivor", lease_s=lease_s)
    other = RedisJournal(redis_url, "replica-other", lease_s=lease_s)
    assert await doomed.open() == []
    assert await survivor.open() == []
    assert await other.open() == []
    await doomed.record_intent("i-1")
    await doomed.record_session("i-1", "s-1")
    await doomed.record_intent("i-2")

    assert await survivor.maintain() == []  # The lease is live.

    await doomed._redis.aclose()  # Dies: no more heartbeats, no clean close.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while True:
        assert loop.time() < deadline, "the dead replica's entries were never adopted"
        await asyncio.sleep(0.2)
        # Both live replicas race for the adoption at once.
        got = await asyncio.gather(survivor.maintain(), other.maintain())
        if any(got):
            break
    winner, loser = (survivor, other) if got[0] else (other, survivor)
    assert got[1 if winner is survivor else 0] == []
    adopted = got[0] or got[1]
    assert sorted((e.intent_id, e.session_id) for e in adopted) == [("i-1", "s-1"), ("i-2", "")]
    assert {e.owner for e in adopted} == {"replica-doomed"}
    # Adoption moved them to the winner: nobody adopts them twice.
    assert await loser.maintain() == []
    assert await winner._redis.hlen(f"avatar-bridge:owned:{winner.owner}") == 2
    for entry in adopted:
        await winner.forget(entry.intent_id)
    await survivor.close()
    await other.close()
    # Both left cleanly (nothing owed), so the fleet registry is empty.
    probe = RedisJournal(redis_url, "probe", lease_s=lease_s)
    assert await probe._redis.smembers("avatar-bridge:replicas") == set()
    await probe._redis.aclose()
