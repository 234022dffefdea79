"""The bridge as a real process: SIGTERM during live and half-set-up calls, SIGKILL and restart on
the same state dir, and a two-replica fleet on a real Redis where one replica is SIGKILLed.

The emulator (`liveavatar-emulator`) and `avatar-bridge serve` run as separate processes; the bridge
with a real API key, so it journals like a production bridge.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import time
from pathlib import Path

import grpc
import pytest
from server.fixtures import emulator_as_process as emulator_as_process  # `emulator`: a process
from server.helpers import WAIT_S, Inspector, Stream, lite_config

from avatarbridge.v1 import avatar_bridge_pb2 as pb
from avatarbridge.v1 import avatar_bridge_pb2_grpc as pb_grpc

from .helpers import BridgeProcess, arm, open_live, wait_active

GRACE_S = 15.0
EXIT_MARGIN_S = 5.0
"""Interpreter teardown after the grace period."""
RECOVERY_S = 10.0
"""The issue's bound: a restarted bridge stops what the killed one owned within this."""
LEASE_S = 2.0
HOLD_S = {"100-in-setup": 3.0, "liveavatar-stalled": 1.0}
"""How long the emulator holds each start call (in setup) or every REST call (stalled)."""

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]


def journal_rows(state_dir: Path) -> int:
    with sqlite3.connect(state_dir / "sessions.sqlite3") as db:
        count: int = db.execute("SELECT COUNT(*) FROM owned_sessions").fetchone()[0]
        return count


async def told_shutdown(stream: Stream) -> None:
    """A live call ends with SessionStopped(SERVER_SHUTDOWN) and OK."""
    await stream.stopped(pb.STOP_REASON_SERVER_SHUTDOWN)


async def cut_during_setup(stream: Stream) -> bool:
    """A call still being set up ends UNAVAILABLE, saying the bridge is shutting down.

    Returns False for a call whose setup finished just before the signal (a race the test
    cannot exclude): it must then be told like a live one, by SessionStopped or UNAVAILABLE.
    """
    try:
        await stream.drain()
    except grpc.aio.AioRpcError:
        code, details = await stream.status()
        assert code == grpc.StatusCode.UNAVAILABLE, details
        assert "shutting down" in details, details
        return "session_started" not in stream.kinds()
    assert stream.kinds()[-1] == "session_stopped", stream.kinds()
    assert stream.events[-1].session_stopped.reason == pb.STOP_REASON_SERVER_SHUTDOWN
    return False


async def start_setups(stub: pb_grpc.AvatarBridgeServiceStub, count: int) -> list[Stream]:
    streams = [Stream(stub) for _ in range(count)]
    await asyncio.gather(*(s.send(lite_config()) for s in streams))
    return streams


async def wait_hits(emu: Inspector, rule_id: int, count: int) -> None:
    async with asyncio.timeout(WAIT_S):
        while True:
            response = await emu.http.get("/_emulator/faults")
            hits = {r["id"]: r["hits"] for r in response.json()["rules"]}
            if hits[rule_id] >= count:
                return
            await asyncio.sleep(0.05)


async def sigterm_and_wait(bridge: BridgeProcess) -> float:
    began = time.monotonic()
    bridge.signal(signal.SIGTERM)
    code = await bridge.wait_exit(GRACE_S + EXIT_MARGIN_S)
    took = time.monotonic() - began
    assert code == 0, "\n".join(bridge.stderr[-30:])
    return took


@pytest.mark.parametrize("scenario", ["100-live", "100-in-setup", "liveavatar-stalled"])
async def test_sigterm_tells_every_client_and_leaves_no_session(
    emulator: str, inspector: Inspector, tmp_path: Path, scenario: str
) -> None:
    bridge = await BridgeProcess.start(emulator, "--state-dir", str(tmp_path), grace_s=GRACE_S)
    live: list[Stream] = []
    setting_up: list[Stream] = []
    try:
        async with grpc.aio.insecure_channel(bridge.target) as channel:
            stub = pb_grpc.AvatarBridgeServiceStub(channel)
            if scenario == "100-live":
                live = await open_live(stub, 100)
            else:
                # Start is held (or, stalled, every REST call): the calls hang in setup.
                hold = await arm(
                    inspector,
                    action="delay",
                    endpoint="start" if scenario == "100-in-setup" else None,
                    delay_s=HOLD_S[scenario],
                    times=-1,
                )
                setting_up = await start_setups(stub, 100)
                await wait_hits(inspector, hold["id"], 100)

            took = await sigterm_and_wait(bridge)

            await asyncio.gather(*(told_shutdown(s) for s in live))
            cut = await asyncio.gather(*(cut_during_setup(s) for s in setting_up))
    finally:
        await bridge.kill()
    assert took <= GRACE_S + EXIT_MARGIN_S
    shut = bridge.lines('"shut down"') + [
        line[line.find('"stops_in_flight"') :] for line in bridge.lines("could not be stopped")
    ]
    assert await inspector.active() == [], shut
    assert journal_rows(tmp_path) == 0
    assert not bridge.lines("could not be stopped")
    assert len(await inspector.sessions()) == 100
    if setting_up:
        # The rest had just finished setup; they were told like live calls.
        assert sum(cut) >= 50, f"only {sum(cut)} of 100 calls were still in setup at SIGTERM"
    print(f"SIGTERM ({scenario}): exit after {took:.2f} s, {sum(cut)} cut in setup")


async def test_sigkill_then_restart_stops_every_session_of_the_killed_run(
    emulator: str, inspector: Inspector, tmp_path: Path
) -> None:
    first = await BridgeProcess.start(emulator, "--state-dir", str(tmp_path))
    try:
        async with grpc.aio.insecure_channel(first.target) as channel:
            live = await open_live(pb_grpc.AvatarBridgeServiceStub(channel), 50)
            first.proc.kill()
            await first.wait_exit(WAIT_S)
            for stream in live:
                stream.call.cancel()
    finally:
        await first.kill()
    # Nothing stopped them: the killed bridge leaked all 50, and its journal says so.
    assert len(await inspector.active()) == 50
    assert journal_rows(tmp_path) == 50

    began = time.monotonic()
    second = await BridgeProcess.start(emulator, "--state-dir", str(tmp_path))
    serving = time.monotonic()
    try:
        # Recovery runs before the server listens; the bound counts from SERVING, since the
        # interpreter's start-up (imports) on a loaded 2-core host is not the bridge's doing.
        left = await wait_active(inspector, 0, within_s=RECOVERY_S)
        took = time.monotonic() - began
        after_serving = time.monotonic() - serving
        assert left == [], f"{len(left)} sessions still active {RECOVERY_S} s after the restart"
        assert len(second.lines("recovering an orphaned upstream session")) == 50
        await sigterm_and_wait(second)
    finally:
        await second.kill()
    assert journal_rows(tmp_path) == 0
    print(
        f"restart recovered 50 sessions {took:.2f} s after spawn "
        f"({after_serving:.2f} s after SERVING)"
    )


async def test_redis_fleet_replica_killed_its_sessions_stopped_by_the_other(
    emulator: str, inspector: Inspector, redis_url: str
) -> None:
    flags = ("--redis-url", redis_url, "--lease-s", str(LEASE_S))
    doomed = await BridgeProcess.start(emulator, *flags)
    survivor = await BridgeProcess.start(emulator, *flags)
    try:
        async with (
            grpc.aio.insecure_channel(doomed.target) as doomed_channel,
            grpc.aio.insecure_channel(survivor.target) as survivor_channel,
        ):
            lost = await open_live(pb_grpc.AvatarBridgeServiceStub(doomed_channel), 20)
            kept = await open_live(pb_grpc.AvatarBridgeServiceStub(survivor_channel), 10)
            lost_ids = {s.events[0].session_started.session_id for s in lost}
            kept_ids = {s.events[0].session_started.session_id for s in kept}

            began = time.monotonic()
            doomed.proc.kill()
            await doomed.wait_exit(WAIT_S)
            for stream in lost:
                stream.call.cancel()

            left = await wait_active(inspector, len(kept_ids), within_s=LEASE_S + RECOVERY_S)
            took = time.monotonic() - began
            # The survivor stopped every session of the dead replica, and none of its own.
            assert set(left) == kept_ids, f"still active: {set(left) & lost_ids}"
            assert len(survivor.lines("recovering an orphaned upstream session")) == 20
            took_s = await sigterm_and_wait(survivor)
            await asyncio.gather(*(told_shutdown(s) for s in kept))
    finally:
        await doomed.kill()
        await survivor.kill()
    assert await inspector.active() == []
    print(
        f"fleet: dead replica's 20 sessions stopped {took:.2f} s after SIGKILL; exit {took_s:.2f}"
    )
