"""Scale-out on one machine: three bridge replicas behind a real nginx (grpc_pass), one emulator.

60 conversations spread over the three through nginx; SIGTERM one replica: its conversations go
on through its drain, then end with SERVER_SHUTDOWN and their upstream sessions are stopped; the
other replicas' conversations go on untouched; new conversations land on the two left.
Which replica drives a session is read from each replica's own log ("conversation started").
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from reliability.helpers import BridgeProcess, free_port
from server.helpers import WAIT_S, Inspector, Stream, audio, lite_config, speak_end
from server.process import wait_listening

from avatarbridge.v1 import avatar_bridge_pb2 as pb
from avatarbridge.v1 import avatar_bridge_pb2_grpc as pb_grpc
from liveavatar_emulator import Emulator

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
REPLICAS = 3
SESSIONS = 60
LATE = 6
DRAIN_S = 2.0
GRACE_S = 5.0
SPEECH = b"\xff" * 800  # 0.1 s of mu-law 8 kHz.

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(NGINX), reason="nginx not installed (.ci/run adds it)"),
]


def nginx_conf(workdir: Path, port: int, upstreams: list[str]) -> str:
    servers = "\n".join(
        f"    server {target} max_fails=1 fail_timeout=60s;" for target in upstreams
    )
    temp = "\n".join(
        f"  {kind}_temp_path {workdir / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    user = "user root;" if os.geteuid() == 0 else ""  # Workers must reach the temp dirs.
    return f"""
{user}
daemon off;
worker_processes 1;
pid {workdir / "nginx.pid"};
error_log {workdir / "error.log"} warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
{temp}
  upstream bridges {{
{servers}
  }}
  server {{
    listen 127.0.0.1:{port} http2;
    client_body_timeout 300s;
    location / {{
      grpc_pass grpc://bridges;
      grpc_read_timeout 300s;
      grpc_send_timeout 300s;
      grpc_next_upstream error timeout;
    }}
  }}
}}
"""


@contextlib.asynccontextmanager
async def nginx(workdir: Path, upstreams: list[str]) -> AsyncIterator[str]:
    """Debian's nginx on a free loopback port, balancing gRPC over `upstreams`; yields target."""
    port = free_port()
    conf = workdir / "nginx.conf"

    def write() -> None:
        workdir.mkdir()
        conf.write_text(nginx_conf(workdir, port, upstreams))

    await asyncio.to_thread(write)
    proc = await asyncio.create_subprocess_exec(
        NGINX,
        "-p",
        str(workdir),
        "-c",
        str(conf),
        "-e",
        str(workdir / "error.log"),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await wait_listening(proc, port, "nginx")
        yield f"127.0.0.1:{port}"
    finally:
        if proc.returncode is None:
            proc.terminate()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), WAIT_S)
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def placements(replicas: list[BridgeProcess], ids: list[str]) -> dict[str, int]:
    """session id → index of the replica whose log says it started the conversation.

    Log lines are read from the pipes as they come: wait (bounded) until all of `ids` are seen.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while True:
        found: dict[str, int] = {}
        for index, replica in enumerate(replicas):
            for line in replica.lines('"conversation started"'):
                found[json.loads(line)["session_id"]] = index
        if set(ids) <= set(found) or loop.time() >= deadline:
            return found
        await asyncio.sleep(0.05)


async def open_streams(stub: pb_grpc.AvatarBridgeServiceStub, count: int) -> list[Stream]:
    async def one() -> Stream:
        stream = Stream(stub)
        await stream.send(lite_config())
        await stream.started()
        return stream

    return list(await asyncio.gather(*(one() for _ in range(count))))


async def end(streams: list[Stream]) -> None:
    async def one(stream: Stream) -> None:
        await stream.half_close()
        await stream.drain()
        assert (await stream.status())[0] == grpc.StatusCode.OK

    await asyncio.gather(*(one(s) for s in streams))


async def test_sigterm_one_of_three_replicas_behind_nginx(
    emulator: Emulator, tmp_path: Path
) -> None:
    emu = Inspector(emulator.base_url)
    replicas: list[BridgeProcess] = []
    try:
        replicas = list(
            await asyncio.gather(
                *(
                    BridgeProcess.start(
                        emulator.base_url,
                        "--drain-s",
                        str(DRAIN_S),
                        "--state-dir",
                        str(tmp_path / f"state-{i}"),
                        grace_s=GRACE_S,
                    )
                    for i in range(REPLICAS)
                )
            )
        )
        async with (
            nginx(tmp_path / "nginx", [r.target for r in replicas]) as target,
            grpc.aio.insecure_channel(target) as channel,
        ):
            stub = pb_grpc.AvatarBridgeServiceStub(channel)
            streams = await open_streams(stub, SESSIONS)
            ids = [s.events[0].session_started.session_id for s in streams]
            where = await placements(replicas, ids)
            assert sorted(where) == sorted(ids)
            per_replica = [sum(1 for i in ids if where[i] == r) for r in range(REPLICAS)]
            assert all(count >= SESSIONS // REPLICAS // 2 for count in per_replica), per_replica
            assert sorted(await emu.active()) == sorted(ids)

            doomed = [s for s, i in zip(streams, ids, strict=True) if where[i] == 0]
            kept = [s for s, i in zip(streams, ids, strict=True) if where[i] != 0]
            replicas[0].signal(signal.SIGTERM)

            async def shut(stream: Stream) -> None:
                stopped = await stream.until("session_stopped")
                assert stopped.session_stopped.reason == pb.STOP_REASON_SERVER_SHUTDOWN
                assert (await stream.status())[0] == grpc.StatusCode.OK

            await asyncio.gather(*(shut(s) for s in doomed))
            assert await replicas[0].wait_exit(DRAIN_S + GRACE_S + 10.0) == 0
            for stream in doomed:
                session_id = stream.events[0].session_started.session_id
                assert (await emu.wait_ended(session_id))["end_reason"] == "USER_CLOSED"

            # The other replicas' conversations are untouched: live upstream, and still talking.
            kept_ids = [s.events[0].session_started.session_id for s in kept]
            assert sorted(await emu.active()) == sorted(kept_ids)
            for stream in kept[:4]:
                await stream.send(audio(SPEECH), speak_end())
                await stream.until("avatar_speak_ended")
            assert not any(e.HasField("session_stopped") for s in kept for e in s.events), (
                "a conversation on a surviving replica was stopped"
            )

            # New conversations land on the two replicas left.
            late = await open_streams(stub, LATE)
            late_ids = [s.events[0].session_started.session_id for s in late]
            where = await placements(replicas, late_ids)
            assert {where[i] for i in late_ids} <= {1, 2}
            await end(kept + late)
        assert await emu.wait_none_active() == []
    finally:
        for replica in replicas:
            if replica.proc.returncode is None:
                replica.signal(signal.SIGTERM)
        for replica in replicas:
            await replica.wait_exit(DRAIN_S + GRACE_S + 10.0)
            await replica.kill()
        await emu.aclose()
