"""Fleet-wide per-principal quotas in Redis (`--redis-url`): every worker and pod shares them.

Keys (prefix `avatar-bridge:quota:`), per principal:
- `conv:<name>`: a sorted set of conversation leases, member a lease id, score its expiry (ms,
  Redis server time). The holder renews every lease it holds each lease/3; a crashed worker's or
  pod's leases lapse and their slots come back within one lease (`--lease-s`, default 15 s).
- `starts:<name>`: a sorted set of start times (ms): a sliding one-minute window.

One Lua script does check-and-take atomically, on Redis's clock (`TIME`), so two bridges racing
for a principal's last slot cannot both win and pods with skewed clocks still agree.

Redis unreachable: by default the bridge falls back to its in-process quotas (per worker, as
without `--redis-url`): a Redis outage then neither stops every conversation of the fleet nor
lifts the quotas altogether. `--quota-fail-closed` refuses instead (where quotas bound spend
more than availability matters). Each state change is logged once (never the URL) and exported
as the `avatar_bridge_quota_store_up` gauge.
"""

from __future__ import annotations

import asyncio
import logging
import math
import uuid
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from avatar_bridge.admission import Release
from avatar_bridge.errors import LimitExceeded, Overloaded
from avatar_bridge.security.principal import Principal, Quota
from avatar_bridge.security.quotas import WINDOW_S, QuotaPolicy

log = logging.getLogger(__name__)

PREFIX = "avatar-bridge:quota:"

_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local max_conv = tonumber(ARGV[3])
local max_starts = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
local active = redis.call('ZCARD', KEYS[1])
if max_conv > 0 and active >= max_conv then return {1, active, 0} end
local starts = redis.call('ZCARD', KEYS[2])
if max_starts > 0 and starts >= max_starts then
  local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  return {2, starts, tonumber(oldest[2]) + window - now}
end
redis.call('ZADD', KEYS[1], now + lease, ARGV[5])
redis.call('ZADD', KEYS[2], now, ARGV[5])
redis.call('PEXPIRE', KEYS[1], lease * 2)
redis.call('PEXPIRE', KEYS[2], window * 2)
return {0, active + 1, 0}
"""
"""KEYS: leases, starts; ARGV: lease ms, window ms, max conversations, max starts, lease id.
Returns {0 taken | 1 conversations full | 2 starts full, count, ms until a start frees}."""

_RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[1])
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], now + lease, ARGV[i + 1])
  redis.call('PEXPIRE', KEYS[i], lease * 2)
end
return #KEYS
"""
"""KEYS: the lease set of each held lease; ARGV: lease ms, then the lease ids in KEYS' order.
Plain ZADD (not XX): a lease that lapsed during an outage is re-asserted, since its
conversation really lives; the principal may be over quota until one of them ends."""


class QuotaStoreDown(Overloaded):
    """Refused because the shared quota store is unreachable (`--quota-fail-closed`)."""


class RedisQuotaStore:
    """The Redis side: take, renew and release conversation leases; count starts."""

    def __init__(self, url: str, *, lease_s: float = 15.0, timeout_s: float = 1.0) -> None:
        self.lease_s = lease_s
        # Short timeouts: admission waits on these calls, and a dead Redis must fail fast.
        self._redis: Redis = Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
        )
        self._take = self._redis.register_script(_TAKE)
        self._renew = self._redis.register_script(_RENEW)

    async def take(self, name: str, quota: Quota, lease_id: str) -> None:
        """Take a conversation lease and a start for `name`, or raise LimitExceeded."""
        status, count, wait_ms = await self._take(
            keys=[_conv(name), _starts(name)],
            args=[
                int(self.lease_s * 1000),
                int(WINDOW_S * 1000),
                quota.max_conversations,
                quota.starts_per_minute,
                lease_id,
            ],
        )
        if status == 1:
            raise LimitExceeded(
                f"principal {name!r} already drives {count} conversations across the fleet, its "
                f"limit of {quota.max_conversations}: retry when one of them ends",
                subject=f"principal:{name}:conversations",
            )
        if status == 2:
            retry_s = max(1, math.ceil(int(wait_ms) / 1000))
            raise LimitExceeded(
                f"principal {name!r} started {count} conversations in the last minute across the "
                f"fleet, its limit of {quota.starts_per_minute} per minute: retry in {retry_s} s",
                subject=f"principal:{name}:starts_per_minute",
                retry_after_s=retry_s,
            )

    async def renew(self, held: dict[str, str]) -> None:
        """Extend every lease in `held` (lease id → principal name) by one lease, in one call."""
        if not held:
            return
        ids = list(held)
        await self._renew(
            keys=[_conv(held[lease_id]) for lease_id in ids],
            args=[int(self.lease_s * 1000), *ids],
        )

    async def release(self, name: str, lease_id: str) -> None:
        await self._redis.zrem(_conv(name), lease_id)

    async def close(self) -> None:
        await self._redis.aclose()


class FleetQuotas:
    """The async quota step of admission when a shared store is configured.

    `take()` returns a Release for the admission Ticket; leases are renewed by one background
    task (one Redis call per lease/3 for all of this process's leases), never per chunk.
    """

    def __init__(
        self,
        store: RedisQuotaStore,
        local: QuotaPolicy,
        *,
        fail_closed: bool = False,
        on_state: Callable[[bool], object] = lambda up: None,
    ) -> None:
        self.store = store
        self.local = local
        self.fail_closed = fail_closed
        self.up = True
        self._on_state = on_state
        self._held: dict[str, str] = {}
        """lease id → principal name, of conversations admitted through Redis."""
        self._renewer: asyncio.Task[None] | None = None
        self._releases: set[asyncio.Task[None]] = set()
        on_state(True)

    @property
    def held(self) -> int:
        return len(self._held)

    async def take(self, principal: Principal) -> Release:
        quota = principal.quota or self.local.default
        if not quota.max_conversations and not quota.starts_per_minute:
            return _nothing
        lease_id = uuid.uuid4().hex
        try:
            await self.store.take(principal.name, quota, lease_id)
        except (RedisError, OSError) as exc:
            self._state(False, exc)
            if self.fail_closed:
                raise QuotaStoreDown(
                    "the shared quota store (Redis) is unreachable and this bridge refuses "
                    "rather than admit unchecked (--quota-fail-closed): retry later"
                ) from exc
            return self.local.check_and_take(principal).release
        self._state(True)
        self._held[lease_id] = principal.name
        self._ensure_renewer()
        # Counted locally too, so a fallback during an outage sees this process's conversations.
        local = self.local.record(principal)

        def give_back() -> None:
            local.release()
            self._give_back(principal.name, lease_id)

        return give_back

    async def close(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
            await asyncio.gather(self._renewer, return_exceptions=True)
        await asyncio.gather(*self._releases, return_exceptions=True)
        await self.store.close()

    def _give_back(self, name: str, lease_id: str) -> None:
        if self._held.pop(lease_id, None) is None:
            return
        task = asyncio.get_running_loop().create_task(self._release(name, lease_id))
        self._releases.add(task)
        task.add_done_callback(self._releases.discard)

    async def _release(self, name: str, lease_id: str) -> None:
        try:
            await self.store.release(name, lease_id)
        except (RedisError, OSError) as exc:
            # Not lost: the lease lapses on its own within one lease.
            self._state(False, exc)

    def _ensure_renewer(self) -> None:
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.get_running_loop().create_task(self._renew_forever())

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self.store.lease_s / 3)
            try:
                await self.store.renew(dict(self._held))
            except (RedisError, OSError) as exc:
                self._state(False, exc)
            else:
                self._state(True)

    def _state(self, up: bool, exc: BaseException | None = None) -> None:
        if up == self.up:
            return
        self.up = up
        self._on_state(up)
        if up:
            log.warning("quota store reachable again: quotas are fleet-wide")
        else:
            # The exception type only: its text may carry the host, never the password, but
            # keep the log free of the URL altogether.
            log.error(
                "quota store unreachable: "
                + (
                    "refusing new conversations"
                    if self.fail_closed
                    else "quotas fall back to this process"
                ),
                extra={"error": type(exc).__name__},
            )


def _conv(name: str) -> str:
    return PREFIX + "conv:" + name


def _starts(name: str) -> str:
    return PREFIX + "starts:" + name


def _nothing() -> None:
    """The release of a principal without quotas."""
