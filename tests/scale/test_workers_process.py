"""`avatar-bridge serve --workers 2` as real processes against a separate emulator process.

Both workers serve Converse on the one port (connections spread by the kernel, seen in each
worker's own /metrics), SIGTERM drains both, and a SIGKILLed worker is logged and replaced by
one that stops every session the dead worker owned, exactly once, while the other worker's
conversations go on.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import grpc
import httpx
import pytest
from conftest import API_KEY  # tests/conftest.py
from reliability.helpers import BridgeProcess, wait_active
from server.fixtures import emulator_as_process as emulator_as_process  # `emulator`: a process
from server.fixtures import inspector as inspector
from server.helpers import WAIT_S, Inspector, Stream, lite_config
from server.process import BRIDGE

from avatarbridge.v1 import avatar_bridge_pb2 as pb
from avatarbridge.v1 import avatar_bridge_pb2_grpc as pb_grpc

GRACE_S = 10.0
EXIT_MARGIN_S = 5.0
RECOVERY_S = 10.0
CONNECTIONS = 16
"""One conversation per connection: the kernel hashes connections, not calls, to workers; all 16
landing on one worker has probability 2**-15."""

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]


def _two_free_ports() -> int:
    """A base port with base+1 free too (worker i serves /metrics on base + i)."""
    for _ in range(50):
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            base: int = first.getsockname()[1]
            with socket.socket() as second:
                try:
                    second.bind(("127.0.0.1", base + 1))
                except OSError:
                    continue
                return base
    raise AssertionError("no two adjacent free ports")


async def start_workers(emulator: str, state_dir: Path) -> tuple[BridgeProcess, int]:
    """Two workers; retried, since the gRPC port is picked free but bound later (no port 0 with
    SO_REUSEPORT across processes)."""
    for attempt in range(3):
        metrics = _two_free_ports()
        try:
            bridge = await BridgeProcess.start(
                emulator,
                "--workers",
                "2",
                "--state-dir",
                str(state_dir),
                "--metrics-listen",
                f"127.0.0.1:{metrics}",
                grace_s=GRACE_S,
            )
        except AssertionError:
            if attempt == 2:
                raise
            continue
        break
    # Health answers from whichever worker is up first: wait until both listen, or every early
    # connection lands on the first worker (the kernel hashes over the sockets bound so far).
    await until(lambda: len(bridge.lines('"avatar-bridge listening"')) >= 2)
    return bridge, metrics


def worker_pids(bridge: BridgeProcess) -> list[int]:
    started = [json.loads(line) for line in bridge.lines('"workers started"')]
    pids: list[int] = started[0]["pids"]
    return pids


async def live_count(metrics_port: int) -> float:
    async with httpx.AsyncClient(timeout=WAIT_S) as http:
        text = (await http.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
    found = re.search(r'avatarbridge_conversations\{mode="lite",state="live"\} (\S+)', text)
    return float(found.group(1)) if found else 0.0


async def open_spread(target: str, count: int) -> tuple[list[Stream], list[grpc.aio.Channel]]:
    """`count` live conversations, each on its own connection."""
    channels = [
        grpc.aio.insecure_channel(target, options=[("grpc.use_local_subchannel_pool", 1)])
        for _ in range(count)
    ]

    async def one(channel: grpc.aio.Channel) -> Stream:
        stream = Stream(pb_grpc.AvatarBridgeServiceStub(channel))
        await stream.send(lite_config())
        await stream.started()
        return stream

    return list(await asyncio.gather(*(one(c) for c in channels))), channels


async def until(condition: Callable[[], bool]) -> None:
    """Poll `condition` until true, bounded by WAIT_S."""
    async with asyncio.timeout(WAIT_S):
        while True:
            if condition():
                return
            await asyncio.sleep(0.05)


def journal_rows(state_dir: Path) -> int:
    with sqlite3.connect(state_dir / "sessions.sqlite3") as db:
        count: int = db.execute("SELECT COUNT(*) FROM owned_sessions").fetchone()[0]
        return count


async def test_two_workers_share_the_port_and_sigterm_drains_both(
    emulator: str, inspector: Inspector, tmp_path: Path
) -> None:
    bridge, metrics = await start_workers(emulator, tmp_path)
    channels: list[grpc.aio.Channel] = []
    try:
        assert len(worker_pids(bridge)) == 2
        streams, channels = await open_spread(bridge.target, CONNECTIONS)
        per_worker = [await live_count(metrics), await live_count(metrics + 1)]
        # Both workers serve Converse: connections spread across the two processes.
        assert sum(per_worker) == CONNECTIONS, per_worker
        assert min(per_worker) >= 1, per_worker
        assert len(await inspector.active()) == CONNECTIONS

        began = time.monotonic()
        bridge.signal(signal.SIGTERM)
        code = await bridge.wait_exit(GRACE_S + EXIT_MARGIN_S)
        took = time.monotonic() - began
        assert code == 0, "\n".join(bridge.stderr[-30:])
        for stream in streams:
            await stream.drain()
            assert stream.events[-1].session_stopped.reason == pb.STOP_REASON_SERVER_SHUTDOWN
            assert (await stream.status())[0] == grpc.StatusCode.OK
    finally:
        for channel in channels:
            await channel.close()
        await bridge.kill()
    assert took <= GRACE_S + EXIT_MARGIN_S
    assert len(bridge.lines('"shut down"')) == 2
    assert await inspector.active() == []
    assert journal_rows(tmp_path) == 0
    print(f"2 workers: {per_worker} conversations; SIGTERM exit after {took:.2f} s")


async def test_a_killed_worker_is_replaced_and_its_sessions_stopped_exactly_once(
    emulator: str, inspector: Inspector, tmp_path: Path
) -> None:
    bridge, metrics = await start_workers(emulator, tmp_path)
    channels: list[grpc.aio.Channel] = []
    try:
        streams, channels = await open_spread(bridge.target, CONNECTIONS)
        doomed = int(await live_count(metrics))
        assert 1 <= doomed < CONNECTIONS
        first, second = worker_pids(bridge)

        os.kill(first, signal.SIGKILL)  # Worker 0 only; the parent stays.
        await until(lambda: sum(s.call.done() for s in streams) >= doomed)
        lost = [s for s in streams if s.call.done()]
        kept = [s for s in streams if not s.call.done()]
        kept_ids = {s.events[0].session_started.session_id for s in kept}
        assert len(lost) == doomed and len(kept) == CONNECTIONS - doomed

        # The replacement adopts the dead worker's journal entries and stops those sessions;
        # the surviving worker's conversations stay live.
        left = await wait_active(inspector, len(kept_ids), within_s=RECOVERY_S + WAIT_S)
        assert set(left) == kept_ids
        restarted = [json.loads(line) for line in bridge.lines("worker exited unexpectedly")]
        assert [(r["worker"], r["pid"], r["signal"]) for r in restarted] == [(0, first, "SIGKILL")]
        await until(lambda: len(bridge.lines("recovering an orphaned upstream session")) >= doomed)
        # Health still answers on the shared port, and new conversations are served.
        await bridge.wait_serving()
        more, more_channels = await open_spread(bridge.target, 2)
        channels += more_channels
        assert all(s.events[0].session_started.session_id for s in more)
        assert bridge.proc.returncode is None

        bridge.signal(signal.SIGTERM)
        assert await bridge.wait_exit(GRACE_S + EXIT_MARGIN_S) == 0
    finally:
        for channel in channels:
            await channel.close()
        await bridge.kill()
    # Exactly once: one recovery per lost session (not one by the replacement and another by
    # the sibling), and nothing left running or journaled.
    assert len(bridge.lines("recovering an orphaned upstream session")) == doomed
    assert second not in [r["pid"] for r in restarted]
    assert await inspector.active() == []
    assert journal_rows(tmp_path) == 0
    print(f"killed worker 0 ({doomed} sessions): all stopped, {len(kept)} kept on worker 1")


async def test_workers_that_keep_dying_end_the_parent_with_exit_1(tmp_path: Path) -> None:
    """An auth file that does not exist stops every worker at start: after 3 restarts within a
    minute the parent gives up, so the platform sees a crash loop rather than a silent one."""
    port = _two_free_ports()
    proc = await asyncio.create_subprocess_exec(
        str(BRIDGE),
        "serve",
        "--workers",
        "2",
        "--listen",
        f"127.0.0.1:{port}",
        "--auth-file",
        str(tmp_path / "missing.toml"),
        env={**os.environ, "LIVEAVATAR_API_KEY": API_KEY},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, err = await asyncio.wait_for(proc.communicate(), 90)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 1
    lines = err.decode().splitlines()
    assert sum("worker exited unexpectedly: restarting it" in line for line in lines) == 3
    assert sum("workers keep dying" in line for line in lines) == 1


async def test_a_worker_signalled_directly_stops_the_whole_bridge_cleanly(tmp_path: Path) -> None:
    """systemd (KillMode=control-group) and Ctrl-C signal every process of the group: a worker
    that drains and exits 0 is not a crash, so the parent stops the others and exits 0."""
    bridge, _ = await start_workers("http://127.0.0.1:9", tmp_path)
    try:
        first, _second = worker_pids(bridge)
        os.kill(first, signal.SIGTERM)
        assert await bridge.wait_exit(GRACE_S + EXIT_MARGIN_S) == 0, "\n".join(bridge.stderr)
    finally:
        await bridge.kill()
    assert not bridge.lines("restarting it"), "\n".join(bridge.stderr)
    assert len(bridge.lines('"shut down"')) == 2


def _running(pid: int) -> bool:
    """Alive and not a zombie waiting for whoever adopted it."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


async def test_workers_drain_and_exit_when_the_parent_is_killed(tmp_path: Path) -> None:
    """No worker outlives a SIGKILLed parent: each gets SIGTERM (PR_SET_PDEATHSIG) and drains."""
    bridge, _ = await start_workers("http://127.0.0.1:9", tmp_path)
    pids = worker_pids(bridge)
    try:
        bridge.proc.kill()
        await bridge.wait_exit(WAIT_S)
        await until(lambda: not any(_running(pid) for pid in pids))
    finally:
        for pid in pids:
            if _running(pid):
                os.kill(pid, signal.SIGKILL)
    assert len(bridge.lines('"shut down"')) == 2, "\n".join(bridge.stderr)
