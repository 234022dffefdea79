"""Limits that hold: a burst never exceeds --max-sessions upstream, a stream must send its config
in time, and streams waiting for a config are bounded. Real sockets to the emulator."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from server.helpers import WAIT_S, Stream, audio, lite_config, speak_end

from liveavatar_emulator import Emulator

from .conftest import LimitedBridge, limited_bridge
from .helpers import run_call


class ActivePeak:
    """The emulator's count of active sessions, at every creation and sampled over HTTP.

    Creation is the only moment the count can rise, so the hook sees the true peak; the HTTP
    sampler reads the emulator's public /_emulator/active view on the side.
    """

    def __init__(self, lb: LimitedBridge) -> None:
        self._lb = lb
        self.at_creation = 0
        self.sampled = 0
        self.samples = 0
        self._original: Callable[..., Any] | None = None
        self._sampler: asyncio.Task[None] | None = None

    def __enter__(self) -> ActivePeak:
        registry = self._lb.emulator.registry
        original = registry.create
        self._original = original

        def create(**kwargs: Any) -> Any:
            session = original(**kwargs)
            self.at_creation = max(self.at_creation, len(registry.active()))
            return session

        registry.create = create  # type: ignore[method-assign]
        self._sampler = asyncio.create_task(self._sample())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._sampler is not None
        self._sampler.cancel()
        self._lb.emulator.registry.create = self._original  # type: ignore[method-assign]

    async def _sample(self) -> None:
        while True:
            self.sampled = max(self.sampled, len(await self._lb.emu.active()))
            self.samples += 1
            await asyncio.sleep(0.01)


async def test_burst_of_200_never_exceeds_20_upstream_sessions(emulator: Emulator) -> None:
    calls, limit = 200, 20
    async with limited_bridge(emulator, max_sessions=limit) as lb:
        decided = 0
        all_decided = asyncio.Event()
        codes: list[grpc.StatusCode] = []
        refusals: list[str] = []

        async def one(index: int) -> None:
            nonlocal decided
            stream = Stream(lb.stub)
            await stream.send(lite_config())
            try:
                await stream.started()
            except grpc.aio.AioRpcError as exc:
                codes.append(exc.code())
                refusals.append(exc.details() or "")
                return
            finally:
                decided += 1
                if decided == calls:
                    all_decided.set()
            # Admitted: hold the session until every call is decided, so the limit is full.
            await asyncio.wait_for(all_decided.wait(), WAIT_S)
            await stream.send(audio(bytes([index % 256]) * 800), speak_end())
            await stream.half_close()
            events = await stream.drain()
            assert events[-1].WhichOneof("event") == "session_stopped", stream.kinds()
            codes.append((await stream.status())[0])

        with ActivePeak(lb) as peak:
            await asyncio.gather(*(one(i) for i in range(calls)))
            # A second wave after the first: slots came back, the limit still holds.
            await asyncio.gather(*(one(i) for i in range(calls)))
        assert peak.at_creation == limit, f"peak {peak.at_creation}, expected exactly {limit}"
        assert peak.sampled <= limit and peak.samples > 0
        assert codes.count(grpc.StatusCode.OK) >= limit
        assert set(codes) <= {grpc.StatusCode.OK, grpc.StatusCode.RESOURCE_EXHAUSTED}
        assert codes.count(grpc.StatusCode.RESOURCE_EXHAUSTED) == len(refusals) >= calls - limit
        assert all("20 conversations" in r and "--max-sessions" in r for r in refusals)
        assert not await lb.emu.wait_none_active()
        admission = lb.server.service.admission if lb.server.service else None
        assert admission is not None and admission.sessions.in_use == 0


async def test_a_stream_without_config_gets_deadline_exceeded(emulator: Emulator) -> None:
    async with limited_bridge(emulator, config_timeout_s=0.5) as lb:
        silent = await run_call(lb.channel, [], half_close=False)
        assert silent.code is grpc.StatusCode.DEADLINE_EXCEEDED, silent
        assert "0.5 s" in silent.details and "--config-timeout-s" in silent.details
        # The deadline is for the first request only: a conversation may outlive it.
        stream = Stream(lb.stub)
        await stream.send(lite_config())
        await stream.started()
        await asyncio.sleep(1.0)  # past the config deadline on purpose, not a speed check
        await stream.send(audio(b"\x10" * 800), speak_end())
        await stream.half_close()
        assert (await stream.drain())[-1].WhichOneof("event") == "session_stopped"
        assert (await stream.status())[0] is grpc.StatusCode.OK
        assert not await lb.emu.wait_none_active()


@pytest.mark.parametrize("idle", [3000])
async def test_idle_pre_config_streams_are_bounded_refused_and_released(
    emulator: Emulator, idle: int
) -> None:
    bound = 500
    async with limited_bridge(emulator, max_pending_configs=bound, config_timeout_s=3.0) as lb:
        assert lb.server.service is not None
        pending = lb.server.service.admission.pending
        # Spread over a few connections, as many clients would be.
        channels = [grpc.aio.insecure_channel(lb.target) for _ in range(4)]
        try:
            outcomes = await asyncio.gather(
                *(
                    run_call(channels[i % len(channels)], [], half_close=False, timeout_s=60)
                    for i in range(idle)
                )
            )
        finally:
            for channel in channels:
                await channel.close()
        codes = [o.code for o in outcomes]
        exhausted = [o for o in outcomes if o.code is grpc.StatusCode.RESOURCE_EXHAUSTED]
        timed_out = codes.count(grpc.StatusCode.DEADLINE_EXCEEDED)
        assert len(exhausted) + timed_out == idle, {c: codes.count(c) for c in set(codes)}
        assert pending.peak == bound, "the bound was reached and never passed"
        assert timed_out >= bound and len(exhausted) >= 1
        assert all("--max-pending-configs" in o.details for o in exhausted)
        assert pending.in_use == 0, "every waiting slot was released"
        # The bridge still serves a real conversation afterwards.
        stream = Stream(lb.stub)
        await stream.send(lite_config())
        await stream.started()
        await stream.half_close()
        await stream.drain()
        assert (await stream.status())[0] is grpc.StatusCode.OK
        assert not await lb.emu.wait_none_active()


async def test_sessions_of_cancelled_calls_still_count_until_stopped(emulator: Emulator) -> None:
    """A call cancelled while its token request is out gives its call back at once, but the
    session it leaves behind bills until the registry stops it: the limit counts it until then."""
    from reliability.helpers import arm  # tests/reliability/helpers.py

    limit = 2
    async with limited_bridge(emulator, max_sessions=limit) as lb:
        before = len(await lb.emu.sessions())
        await arm(lb.emu, action="delay", endpoint="token", delay_s=1.5, times=limit)
        first = [Stream(lb.stub) for _ in range(limit)]
        for stream in first:
            await stream.send(lite_config())
        registry = lb.server.registry
        assert registry is not None
        await _until(lambda: registry.upstream_sessions == limit)  # Both tokens are out.
        for stream in first:
            stream.call.cancel()
        # The calls are gone, their sessions are not yet: a new call is refused.
        late = Stream(lb.stub)
        await late.send(lite_config())
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await late.started()
        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "still being created or stopped" in (refused.value.details() or "")
        # Once the abandoned sessions are created and stopped, the slots come back.
        await _until(lambda: registry.upstream_sessions == 0)
        again = Stream(lb.stub)
        await again.send(lite_config())
        await again.started()
        again.call.cancel()
        # The refused call never reached LiveAvatar.
        assert len(await lb.emu.sessions()) - before == limit + 1


async def _until(condition: Callable[[], bool]) -> None:
    """Poll `condition` (the registry has no event for it), bounded by WAIT_S."""
    async with asyncio.timeout(WAIT_S):
        while True:
            if condition():
                return
            await asyncio.sleep(0.01)
