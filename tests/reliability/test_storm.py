"""LITE cancellation storm: 1,000 Converse streams cancelled at random points leak nothing.

Phases (equal shares, shuffled): before the config, right after it, while the token request is in
flight, while start is in flight, mid-utterance, after an interrupt. Token and start are each
held 150 ms by an emulator fault rule so that cancels really land inside them.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import random
import time

import grpc
import pytest
from server.helpers import Stream, audio, lite_config

from avatarbridge.v1 import avatar_bridge_pb2 as pb

from .conftest import Env
from .helpers import arm, wait_active

STREAMS = 1000
CONCURRENCY = 64
HOLD_S = 0.15
"""How long the emulator holds each token and each start call."""
REACH_S = 0.03
"""Leeway for a config to reach the bridge (same process, same loop) before a cancel."""
SETTLE_S = 2.0
"""The issue's bound: 0 sessions active this long after the last cancel."""
CHUNK = b"\xff" * 160
"""20 ms of G.711 mu-law silence at 8 kHz."""
PHASES = ("before_config", "after_config", "token", "start", "mid_utterance", "after_interrupt")

log = logging.getLogger(__name__)


@pytest.fixture
def rest_timeout_s() -> float:
    """No REST faults here beyond the holds: LiveAvatar answers, however loaded the host."""
    return 10.0


async def one(env: Env, phase: str, rng: random.Random) -> bool:
    """Run one stream to its cancel point and cancel it; True if it saw session_started."""
    stream = Stream(env.stub)
    saw_start = False
    try:
        if phase == "before_config":
            await asyncio.sleep(rng.uniform(0, 0.005))
            return False
        await stream.send(lite_config())
        if phase == "after_config":
            return False
        if phase == "token":
            await asyncio.sleep(REACH_S + rng.uniform(0, HOLD_S - REACH_S))
            return False
        if phase == "start":
            await asyncio.sleep(HOLD_S + REACH_S + rng.uniform(0, HOLD_S - REACH_S))
            return False
        await stream.started()
        saw_start = True
        await stream.send(audio(CHUNK), audio(CHUNK))
        if phase == "after_interrupt":
            await stream.send(pb.ConverseRequest(interrupt=pb.Interrupt()))
        await asyncio.sleep(rng.uniform(0, 0.02))
        return True
    finally:
        stream.call.cancel()
        del saw_start


@pytest.mark.timeout(300)
async def test_cancellation_storm_leaks_no_session(env: Env) -> None:
    await arm(env.emu, action="delay", endpoint="token", delay_s=HOLD_S, times=-1)
    await arm(env.emu, action="delay", endpoint="start", delay_s=HOLD_S, times=-1)
    rng = random.Random(7)
    phases = [PHASES[i % len(PHASES)] for i in range(STREAMS)]
    rng.shuffle(phases)
    gate = asyncio.Semaphore(CONCURRENCY)
    started = collections.Counter[str]()

    async def guarded(phase: str) -> None:
        async with gate:
            try:
                if await one(env, phase, rng):
                    started[phase] += 1
            except grpc.aio.AioRpcError as exc:
                # A cancel can race the first answer; any other failure is the bridge's.
                assert exc.code() == grpc.StatusCode.CANCELLED, exc

    began = time.monotonic()
    await asyncio.gather(*(guarded(p) for p in phases))
    last_cancel = time.monotonic()

    left = await wait_active(env.emu, 0, within_s=SETTLE_S)
    sessions = await env.emu.sessions()
    log.warning(
        "storm: %d streams in %.1f s, %d sessions created, %d left active %.1f s after the "
        "last cancel; reached session_started per phase: %s",
        STREAMS,
        last_cancel - began,
        len(sessions),
        len(left),
        SETTLE_S,
        dict(started),
    )
    assert left == [], f"{len(left)} sessions left active after the storm"
    # The storm really created sessions in every phase that gets that far.
    assert started["mid_utterance"] > 0 and started["after_interrupt"] > 0
    # Some cancels landed inside token or start: sessions the clients never heard of (how many
    # depends on the host's load: 40 to 130 of the 333 token and start streams were seen).
    assert len(sessions) - sum(started.values()) > 0
