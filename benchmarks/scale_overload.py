"""Overload is refused, never shared: a step past capacity on one pinned worker.

`python -m benchmarks.scale_overload` (part of `make bench-scale`). One worker pinned to core 0,
the load generator and sink on core 1 (benchmarks.run's method). `--admitted` real-time sessions
stream (the calibrated per-worker capacity); once they stream, `--newcomers` more arrive over
two seconds and, if admitted, stream too. Three guards, each a fresh bridge, side by side:

- `limit`: `--max-sessions` = the admitted count (the calibrated limit, the default's rule).
- `lag-shed`: no session limit, `--shed-lag-ms` (load shedding on event-loop lag only).
- `none`: no limit and no shedding: the newcomers share the core (what "shared" looks like).

Reported per guard: what the newcomers got (admitted, RESOURCE_EXHAUSTED, UNAVAILABLE), and
the packet latency p99 of the sessions admitted before them. Results go to
benchmarks/results/scale-overload.{md,json}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import time
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

import grpc
import httpx

from avatarbridge.v1 import avatar_bridge_pb2 as pb
from avatarbridge.v1 import avatar_bridge_pb2_grpc as pb_grpc
from benchmarks import lite_load
from benchmarks.common import GOAL_P99_MS, describe, machine, pct, write_report
from benchmarks.lite_load import BYTES_PER_MS, _config, start_load, stream_audio
from benchmarks.scale import SESSIONS_PER_CONNECTION, Workers
from benchmarks.sink import Sink, Stream

GUARDS = ("limit", "lag-shed", "none")
ARRIVAL_S = 2.0


@dataclass
class OverloadStep:
    guard: str
    flags: list[str]
    admitted: int
    newcomers: int
    newcomer_outcomes: dict[str, int]
    admitted_ok: int
    admitted_errors: int
    starvations: int
    admitted_latency_p99_ms: float
    newcomer_latency_p99_ms: float
    lag_max_ms: float
    load_average: list[float]

    @property
    def refused_not_shared(self) -> bool:
        """Every newcomer refused with a status that names the reason, admitted latency kept."""
        refused = sum(n for code, n in self.newcomer_outcomes.items() if code != "ADMITTED")
        return (
            refused == self.newcomers
            and self.admitted_errors == 0
            and self.admitted_ok == self.admitted
            and self.admitted_latency_p99_ms < GOAL_P99_MS
        )


async def newcomer(
    stub: pb_grpc.AvatarBridgeServiceStub,
    url: str,
    stream: Stream,
    audio: bytes,
    chunk_ms: int,
) -> str:
    """One late conversation: its status code name if refused, else ADMITTED after streaming."""
    call = stub.Converse()
    try:
        await call.write(_config(url))
        while True:
            event = await asyncio.wait_for(call.read(), 60)
            if event is grpc.aio.EOF:
                return str((await call.code()).name)
            if event.session_state_changed.state == pb.SESSION_STATE_CONNECTED:
                break
        drained = asyncio.create_task(_drain(call))
        await stream_audio(call, audio, chunk_ms, time.perf_counter(), stream.sent)
        await asyncio.wait_for(drained, 60)
        return "ADMITTED"
    except grpc.aio.AioRpcError as exc:
        return str(exc.code().name)
    except TimeoutError:
        call.cancel()
        return "TIMEOUT"


async def _drain(call: Any) -> None:
    while await call.read() is not grpc.aio.EOF:
        pass


async def run_guard(
    sink: Sink, http: httpx.AsyncClient, guard: str, args: argparse.Namespace
) -> OverloadStep:
    flags = {
        "limit": ["--max-sessions", str(args.admitted)],
        "lag-shed": ["--shed-lag-ms", str(args.shed_lag_ms)],
        "none": [],
    }[guard]
    limit = args.admitted if guard == "limit" else 100_000
    bridge = Workers(1, {0}, limit, *(flags if guard == "lag-shed" else []))
    tag = f"over-{guard}-{time.monotonic_ns()}"
    try:
        await bridge.ready(http)
        load = await start_load(
            bridge.port,
            sink,
            sessions=args.admitted,
            chunk_ms=args.chunk_ms,
            seconds=args.seconds,
            tag=tag,
        )
        await asyncio.sleep(1.0)  # Admitted sessions settle into real time.
        lags: list[float] = []
        late_audio = random.randbytes(int(args.seconds / 2 * 1000) * BYTES_PER_MS)
        channels = [
            grpc.aio.insecure_channel(
                f"127.0.0.1:{bridge.port}", options=[("grpc.use_local_subchannel_pool", 1)]
            )
            for _ in range(-(-args.newcomers // SESSIONS_PER_CONNECTION))
        ]
        late_streams = []
        tasks = []
        for index in range(args.newcomers):
            path = f"{tag}-late-{index}"
            stream = sink.streams[path] = Stream(chunk_bytes=args.chunk_ms * BYTES_PER_MS)
            late_streams.append(stream)
            stub = pb_grpc.AvatarBridgeServiceStub(channels[index // SESSIONS_PER_CONNECTION])
            tasks.append(
                asyncio.create_task(
                    newcomer(stub, sink.url(path), stream, late_audio, args.chunk_ms)
                )
            )
            await asyncio.sleep(ARRIVAL_S / args.newcomers)
        gathered = asyncio.gather(*tasks)
        while not gathered.done() or not load.done():
            lags += [lag for lag, _ in await bridge.gauges(http)]
            await asyncio.wait({gathered, load}, timeout=0.2)
        outcomes = Counter(gathered.result())
        outcome, streams = load.result()
        for channel in channels:
            await channel.close()
    finally:
        bridge.stop()
    admitted_lat = [x * 1000 for s in streams for x in s.latencies]
    late_lat = [x * 1000 for s in late_streams for x in s.latencies]
    return OverloadStep(
        guard=guard,
        flags=flags,
        admitted=args.admitted,
        newcomers=args.newcomers,
        newcomer_outcomes=dict(outcomes),
        admitted_ok=outcome.ok_calls,
        admitted_errors=len(outcome.errors),
        starvations=outcome.starvations,
        admitted_latency_p99_ms=pct(admitted_lat, 0.99),
        newcomer_latency_p99_ms=pct(late_lat, 0.99),
        lag_max_ms=max(lags, default=0.0),
        load_average=list(os.getloadavg()),
    )


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "# Overload step (`python -m benchmarks.scale_overload`)",
        "",
        f"{describe(report['machine'])} One worker pinned to core 0; load generator and sink "
        "on core 1.",
        "",
        "| guard | flags | admitted | newcomers | newcomers got | refused, not shared | "
        "admitted p99 ms | newcomer p99 ms | lag max ms | admitted errors | starvation | "
        "load avg |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in report["steps"]:
        got = ", ".join(f"{k} {v}" for k, v in sorted(s["newcomer_outcomes"].items()))
        lines.append(
            f"| {s['guard']} | `{' '.join(s['flags']) or '-'}` | {s['admitted']} | "
            f"{s['newcomers']} | {got} | {s['refused_not_shared']} | "
            f"{s['admitted_latency_p99_ms']:.1f} | {s['newcomer_latency_p99_ms']:.1f} | "
            f"{s['lag_max_ms']:.1f} | {s['admitted_errors']} | {s['starvations']} | "
            f"{s['load_average'][0]:.2f} |"
        )
    return "\n".join(lines) + "\n"


async def main(args: argparse.Namespace) -> None:
    lite_load.SESSIONS_PER_CHANNEL = SESSIONS_PER_CONNECTION
    os.sched_setaffinity(0, {1})
    sink = Sink()
    await sink.start()
    report: dict[str, Any] = {"machine": machine(), "steps": []}
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            for guard in args.guards:
                step = await run_guard(sink, http, guard, args)
                row = asdict(step) | {"refused_not_shared": step.refused_not_shared}
                report["steps"].append(row)
                print(json.dumps(row), flush=True)
    finally:
        await sink.close()
    write_report("scale-overload", report, markdown)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admitted", type=int, default=500, help="the calibrated capacity")
    parser.add_argument("--newcomers", type=int, default=250)
    parser.add_argument("--chunk-ms", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--shed-lag-ms", type=float, default=50.0)
    parser.add_argument("--guards", type=lambda t: t.split(","), default=list(GUARDS))
    asyncio.run(main(parser.parse_args()))
