"""FULL cancellation storm: 200 FULL Converse calls cancelled at random points, the room join
included, then nothing may be left: no session, no room, no participant of the bridge, no
connection to the LiveKit server, and the process's file descriptors back to the baseline.

Runs inside the tests' network namespace (marker `full`), where /proc/net/tcp shows only this
test's sockets. Bounded in count (200 calls, 25 at once) and in time (STORM_BOUND_S).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import random
import time
from collections.abc import Awaitable, Callable

import pytest
from server.helpers import WAIT_S, Stream

from avatar_bridge.full.transport import pending_late_leaves
from avatarbridge.v1 import avatar_bridge_pb2 as pb

from .conftest import FullEnv, bridge_participants
from .test_full_converse import full_config, open_full, speak_text

pytestmark = pytest.mark.full

# A call cancelled during the token request loses the session id unless the registry owns the
# token and start calls (issue 7 item 1, the journal package): before that lands, this storm
# would count those leaks, not the FULL leg's.
pytest.importorskip(
    "avatar_bridge.journal", reason="needs registry-owned token/start (issue 7 item 1)"
)

CALLS = 200
CONCURRENCY = 25
STORM_BOUND_S = 120.0
SETTLE_S = 20.0
"""Upper bound for the bridge to stop sessions and leave rooms after the last cancel."""
TCP_ESTABLISHED = "01"
FD_SLACK = 2
"""Known gap: in some runs two UDP sockets (ICE host candidates, owner not identified: no SDK
Room and no open aiortc connection is left) outlive the storm. Above this, the test fails."""
NATIVE_QUIET_S = 3.0
"""The SDK retries a failed signal connection within about a second: 3 s without a native log
line means no join is still retrying."""


def established_to(port: int) -> int:
    """TCP connections in this namespace with `port` at either end, ESTABLISHED."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            next(f)
            for line in f:
                fields = line.split()
                local, remote, state = fields[1], fields[2], fields[3]
                ports = {int(local.rsplit(":", 1)[1], 16), int(remote.rsplit(":", 1)[1], 16)}
                if state == TCP_ESTABLISHED and port in ports:
                    count += 1
    return count


class LastNativeLog(logging.Handler):
    """When the livekit SDK's native core last logged: its retries and reconnects log, so a
    quiet core is one with nothing still connecting or retrying."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.at = time.monotonic()
        self.last = ""

    def emit(self, record: logging.LogRecord) -> None:
        self.at = time.monotonic()
        self.last = record.getMessage()[:200]


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def fd_kinds() -> dict[str, int]:
    """What the open descriptors are, for the failure message: sockets by protocol, state
    (hex, as in /proc/net) and peer port; other descriptors by kind."""
    sockets: dict[str, str] = {}
    for table in ("tcp", "tcp6", "udp", "udp6"):
        with open(f"/proc/net/{table}") as f:
            next(f)
            for line in f:
                fields = line.split()
                local = int(fields[1].rsplit(":", 1)[1], 16)
                peer = int(fields[2].rsplit(":", 1)[1], 16)
                where = f"peer port {peer}" if peer else f"local port {local}"
                sockets[fields[9]] = f"{table} state {fields[3]} {where}"
    kinds: dict[str, int] = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            kind = sockets.get(target[8:-1], "unix socket")
        else:
            kind = target.split(":", 1)[0]
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


async def settle(check: Callable[[], Awaitable[bool]]) -> bool:
    """Poll `check` until it holds or SETTLE_S pass (by the clock: checks can be slow on a
    loaded host); whether it held."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETTLE_S
    while loop.time() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.2)  # Nothing here has a change notification.
    return await check()


@pytest.mark.timeout(300)  # 200 WebRTC joins on both ends in one process: 30 s alone, 2 min loaded.
async def test_200_cancelled_full_calls_leave_nothing_behind(env: FullEnv) -> None:
    port = int(env.backend.server.url.rsplit(":", 1)[1])
    # One full conversation first, so the SDK's native core and every pool are warm.
    stream, _ = await open_full(env)
    await stream.half_close()
    await stream.drain()
    assert await settle(lambda: _no_leftovers(env, port)), "warm-up left something behind"
    await env.bridge.stub.ListSessions(pb.ListSessionsRequest(), timeout=WAIT_S)
    baseline, baseline_kinds = open_fds(), fd_kinds()

    native = LastNativeLog()
    logging.getLogger("livekit").addHandler(native)
    rng = random.Random(20261128)
    phases = ["before_config", "during_setup", "during_setup", "connected", "speaking"]
    seen: dict[str, int] = dict.fromkeys(phases, 0)
    slots = asyncio.Semaphore(CONCURRENCY)

    async def one(i: int) -> None:
        phase = phases[i % len(phases)]
        async with slots:
            stream = Stream(env.bridge.stub)
            try:
                await _drive(stream, phase, rng.uniform(0.0, 1.2))
            finally:
                stream.call.cancel()
            seen[phase] += 1

    async with asyncio.timeout(STORM_BOUND_S):
        await asyncio.gather(*(one(i) for i in range(CALLS)))
    assert sum(seen.values()) == CALLS

    assert await settle(lambda: _no_leftovers(env, port)), await _report(env, port)
    # Nothing native is still joining, retrying or reconnecting: the SDK's core went quiet.
    try:
        assert await settle(lambda: _quiet_since(native, NATIVE_QUIET_S)), native.last
    finally:
        logging.getLogger("livekit").removeHandler(native)

    # Every socket, pipe and timer the calls opened is closed again. The bridge's REST
    # connection pool (bounded) drops connections LiveAvatar closed when it is next used, so
    # each check makes one REST call through the bridge first. The SDK frees a room's native
    # sockets when its Python Room is freed; a Room caught in a reference cycle (an exception's
    # traceback) waits for the cycle collector, which would run on its own as allocation goes
    # on: here it runs at once.
    async def fds_at_baseline() -> bool:
        await env.bridge.stub.ListSessions(pb.ListSessionsRequest(), timeout=WAIT_S)
        gc.collect()
        return open_fds() <= baseline + FD_SLACK

    if not await settle(fds_at_baseline):
        now = fd_kinds()
        extra = {
            k: n - baseline_kinds.get(k, 0) for k, n in now.items() if n > baseline_kinds.get(k, 0)
        }
        raise AssertionError(f"{open_fds()} descriptors open, {baseline} before; extra: {extra}")


async def _drive(stream: Stream, phase: str, delay_s: float) -> None:
    """Drive one call up to its cancellation point."""
    if phase == "before_config":
        return
    await stream.send(full_config())
    if phase == "during_setup":
        # 0-1.2 s after the config: token, start, or the room join (which takes most of it).
        await asyncio.sleep(delay_s)
        return
    await stream.until(
        "session_state_changed",
        lambda e: e.session_state_changed.state == pb.SESSION_STATE_CONNECTED,
    )
    if phase == "speaking":
        await stream.send(speak_text("a few words to cut short", "s1"))
        await stream.until("avatar_speak_started")


async def _quiet_since(native: LastNativeLog, seconds: float) -> bool:
    return time.monotonic() - native.at >= seconds


async def _no_leftovers(env: FullEnv, port: int) -> bool:
    return (
        not await env.emu.active()
        and not env.backend.server.rooms
        and not bridge_participants(env.backend)
        and pending_late_leaves() == 0
        and established_to(port) == 0
    )


async def _report(env: FullEnv, port: int) -> str:
    return (
        f"active sessions {len(await env.emu.active())}, open rooms "
        f"{len(env.backend.server.rooms)}, bridge participants {bridge_participants(env.backend)}, "
        f"late leaves {pending_late_leaves()}, connections to LiveKit {established_to(port)}"
    )
