"""The fleet journal: owned sessions in Redis, under a lease each replica keeps renewing.

Keys (prefix `avatar-bridge:`): `replicas` (a set of owner ids), `lease:<owner>` (expires unless
renewed every lease/3) and `owned:<owner>` (a hash intent_id → JSON {session_id, created_at}).
Any replica that finds a replica without a lease adopts its hash atomically (one Lua script, so
two live replicas never both adopt it) and stops what it holds.

The trade-off of any lease: a replica that stalls longer than the lease is taken for dead and its
sessions are stopped under it. Choose the lease well above the longest plausible pause.
"""

from __future__ import annotations

import json
import time
from typing import Any

from redis.asyncio import Redis

from avatar_bridge.journal.base import Entry

PREFIX = "avatar-bridge:"

_ADOPT = """
if redis.call('EXISTS', KEYS[4]) == 1 then return {} end
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do redis.call('HSET', KEYS[2], all[i], all[i + 1]) end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[3], ARGV[1])
return all
"""
"""KEYS: dead's hash, adopter's hash, replicas set, dead's lease; ARGV: dead's id."""


class RedisJournal:
    """Owned sessions of one replica in Redis; adopts the sessions of replicas that died."""

    def __init__(self, url: str, owner: str, *, lease_s: float = 15.0) -> None:
        self.owner = owner
        self.lease_s = lease_s
        self.heartbeat_s: float | None = lease_s / 3
        self._redis: Redis = Redis.from_url(url, socket_timeout=max(1.0, lease_s / 3))
        self._adopt = self._redis.register_script(_ADOPT)

    async def open(self) -> list[Entry]:
        await self._renew()
        # Entries already under this id come from an earlier life of this replica.
        mine = await self._redis.hgetall(self._owned(self.owner))
        return _entries(mine, self.owner) + await self.maintain()

    async def record_intent(self, intent_id: str) -> None:
        await self._put(intent_id, "")

    async def record_session(self, intent_id: str, session_id: str) -> None:
        await self._put(intent_id, session_id)

    async def forget(self, intent_id: str) -> None:
        await self._redis.hdel(self._owned(self.owner), intent_id)

    async def maintain(self) -> list[Entry]:
        await self._renew()
        adopted: list[Entry] = []
        for raw in await self._redis.smembers(PREFIX + "replicas"):
            other = raw.decode() if isinstance(raw, bytes) else str(raw)
            if other == self.owner:
                continue
            flat = await self._adopt(
                keys=[
                    self._owned(other),
                    self._owned(self.owner),
                    PREFIX + "replicas",
                    PREFIX + "lease:" + other,
                ],
                args=[other],
            )
            pairs = dict(zip(flat[::2], flat[1::2], strict=True))
            adopted += _entries(pairs, other)
        return adopted

    async def close(self) -> None:
        """Leave the fleet cleanly when nothing is owed; else let the lease lapse for adoption."""
        try:
            if not await self._redis.hlen(self._owned(self.owner)):
                await self._redis.delete(PREFIX + "lease:" + self.owner)
                await self._redis.srem(PREFIX + "replicas", self.owner)
        finally:
            await self._redis.aclose()

    async def _put(self, intent_id: str, session_id: str) -> None:
        value = json.dumps({"session_id": session_id, "created_at": time.time()})
        await self._redis.hset(self._owned(self.owner), intent_id, value)

    async def _renew(self) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(PREFIX + "lease:" + self.owner, "1", px=int(self.lease_s * 1000))
            pipe.sadd(PREFIX + "replicas", self.owner)
            await pipe.execute()

    @staticmethod
    def _owned(owner: str) -> str:
        return PREFIX + "owned:" + owner


def _entries(pairs: dict[Any, Any], owner: str) -> list[Entry]:
    entries = []
    for key, raw in pairs.items():
        intent = key.decode() if isinstance(key, bytes) else str(key)
        try:
            value = json.loads(raw)
        except ValueError:
            value = {}
        entries.append(
            Entry(
                intent,
                str(value.get("session_id") or ""),
                owner,
                float(value.get("created_at") or 0.0),
            )
        )
    return entries
