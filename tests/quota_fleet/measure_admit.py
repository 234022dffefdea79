"""Cost of the fleet quota step per admission: Redis check-and-take + release vs in-process.

Run: `python tests/quota_fleet/measure_admit.py` (starts its own redis-server on loopback).
Prints the median and p99 of one take+release round, in-process baseline in the same run.
Not a test: figures depend on the machine (report `uptime` with them).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for reliability.helpers

from reliability.helpers import redis_server

from avatar_bridge.security.principal import Principal, Quota
from avatar_bridge.security.quota_store import FleetQuotas, RedisQuotaStore
from avatar_bridge.security.quotas import QuotaPolicy

ROUNDS = 2000
WHO = Principal("bench", frozenset(), Quota(max_conversations=5, starts_per_minute=10**6))


def summary(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[int(len(ordered) * 0.99)]
    return f"{name}: median {statistics.median(ordered) * 1e6:.0f} us, p99 {p99 * 1e6:.0f} us"


async def main() -> None:
    local = QuotaPolicy()
    baseline = []
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        local.check_and_take(WHO).release()
        baseline.append(time.perf_counter() - t0)
    with tempfile.TemporaryDirectory() as tmp:
        async with redis_server(Path(tmp)) as url:
            fleet = FleetQuotas(RedisQuotaStore(url), QuotaPolicy())
            redis = []
            for _ in range(ROUNDS):
                t0 = time.perf_counter()
                (await fleet.take(WHO))()
                redis.append(time.perf_counter() - t0)
                await asyncio.sleep(0)  # Let the release task run, as between real calls.
            await fleet.close()
    print(summary("in-process take+release", baseline))
    print(summary("redis take (+release scheduled)", redis))


asyncio.run(main())
