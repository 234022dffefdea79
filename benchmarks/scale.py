"""Two-core scale: the same real-time LITE load against 1 worker and 2 workers (`--workers`).

`make bench-scale`. Runs the real `avatar-bridge serve --workers N` (SO_REUSEPORT, supervising
parent) and the load of benchmarks.run: the Go generator and sink (benchmarks/go) where it is
installed, else lite_load + sink in this process (`--generator`). Three set-ups per
step, side by side in one run, so a shared machine's noise hits all three alike:

- `1w-pinned`: 1 worker pinned to core 0, load generator pinned to core 1 (benchmarks.run's
  method: the bridge's one-core capacity).
- `1w-shared`: 1 worker and the load generator on both cores, unpinned.
- `2w-shared`: 2 workers and the load generator on both cores, unpinned.

The Python load generator costs about as much CPU as the bridge per session (gRPC client and
WebSocket sink in Python), the Go one about half, so on a 2-core box `2w-shared` cannot show 2x
the pinned capacity: the generator takes a large share of the box. It is accounted for, not
hidden: every step reports each worker's CPU and the generator's own, and
`bridge ms/session-s` (bridge CPU per session-second) shows whether a second worker costs
anything per session (it should not: no shared state, no balancer). `1w-shared` vs `2w-shared`
is the same CPU budget with one event loop or two.

Loop lag is each worker's smoothed lag gauge from its own /metrics (port base + i), sampled every
200 ms; packet latency is measured at the sink as in benchmarks.run. Results go to
benchmarks/results/scale.{md,json}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from benchmarks import lite_load
from benchmarks.common import (
    GOAL_LAG_MS,
    GOAL_P99_MS,
    cpu_s,
    describe,
    ints,
    machine,
    self_cpu,
    write_report,
)
from benchmarks.go.load import GoLoad, available
from benchmarks.lite_load import start_load
from benchmarks.sink import Sink

BRIDGE = Path(sys.executable).parent / "avatar-bridge"
SETUPS = {
    # name: (workers, bridge cores, load cores); None: unpinned.
    "1w-pinned": (1, {0}, {1}),
    "1w-shared": (1, None, None),
    "2w-shared": (2, None, None),
}
SESSIONS_PER_CONNECTION = 10
"""The kernel spreads connections, not calls, across workers: a fleet of clients opens many
connections; benchmarks.run's 100 sessions per connection would give 2 workers 5 to 10 coins
to share."""


@dataclass
class ScaleStep:
    setup: str
    workers: int
    sessions: int
    chunk_ms: int
    ok_calls: int
    errors: int
    starvations: int
    latency_p50_ms: float
    latency_p99_ms: float
    lag_max_ms: float
    """Largest smoothed lag any worker's gauge showed in the window."""
    sessions_per_worker: list[int]
    worker_cpu_pct: list[float]
    bridge_ms_per_session_s: float
    load_cpu_pct: float
    load_ms_per_session_s: float
    load_average: list[float] = field(default_factory=list)
    generator: str = "python"

    @property
    def passed(self) -> bool:
        return (
            self.errors == 0
            and self.starvations == 0
            and self.ok_calls == self.sessions
            and self.latency_p99_ms < GOAL_P99_MS
            and self.lag_max_ms < GOAL_LAG_MS
        )


def free_ports(count: int) -> int:
    """A base port with `count` consecutive free ports (gRPC port, then metrics ports)."""
    for _ in range(100):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base: int = probe.getsockname()[1]
        if base + count >= 65535:
            continue
        try:
            for offset in range(count):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", base + offset))
        except OSError:
            continue
        return base
    raise RuntimeError("no free port range")


class Workers:
    """`avatar-bridge serve --workers N` with metrics on base + i."""

    def __init__(self, workers: int, cores: set[int] | None, max_sessions: int, *flags: str):
        self.count = workers
        base = free_ports(workers + 1)
        self.port, self.metrics_port = base, base + 1
        self.state = tempfile.TemporaryDirectory(prefix="bench-scale-")
        env = {
            **os.environ,
            "LIVEAVATAR_API_KEY": "bench-unused-key",
            "LIVEAVATAR_API_URL": "http://127.0.0.1:9",  # Attached sessions: no REST call.
        }
        pin = ["taskset", "-c", ",".join(map(str, sorted(cores)))] if cores else []
        self.proc = subprocess.Popen(
            [
                *pin,
                str(BRIDGE),
                "serve",
                "--workers",
                str(workers),
                "--listen",
                f"127.0.0.1:{self.port}",
                "--metrics-listen",
                f"127.0.0.1:{self.metrics_port}",
                "--max-sessions",
                str(max_sessions),
                "--attach-allow",
                "127.0.0.1",
                "--state-dir",
                self.state.name,
                "--log-level",
                "warning",
                *flags,
            ],
            env=env,
            stdin=subprocess.DEVNULL,
        )
        self.pids: list[int] = []

    async def ready(self, http: httpx.AsyncClient) -> None:
        deadline = time.monotonic() + 60
        for index in range(self.count):
            while True:
                assert self.proc.poll() is None, "the bridge exited"
                try:
                    await http.get(f"http://127.0.0.1:{self.metrics_port + index}/metrics")
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, "workers never served /metrics"
                    await asyncio.sleep(0.2)
        if self.count == 1:
            self.pids = [self.proc.pid]
        else:
            self.pids = _children(self.proc.pid)

    def cpu_s(self) -> list[float]:
        return [cpu_s(pid) for pid in self.pids]

    async def gauges(self, http: httpx.AsyncClient) -> list[tuple[float, int]]:
        """Per worker: (smoothed loop lag in ms, live LITE conversations)."""
        out = []
        for index in range(self.count):
            text = (await http.get(f"http://127.0.0.1:{self.metrics_port + index}/metrics")).text
            lag = re.search(r"^avatarbridge_event_loop_lag_seconds (\S+)", text, re.M)
            live = re.search(r'avatarbridge_conversations\{mode="lite",state="live"\} (\S+)', text)
            out.append(
                (
                    float(lag.group(1)) * 1e3 if lag else 0.0,
                    int(float(live.group(1)) if live else 0),
                )
            )
        return out

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.state.cleanup()


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


async def run_step(
    sink: Sink,
    http: httpx.AsyncClient,
    setup: str,
    sessions: int,
    chunk_ms: int,
    seconds: float,
    generator: str = "python",
) -> ScaleStep:
    workers, bridge_cores, load_cores = SETUPS[setup]
    os.sched_setaffinity(0, load_cores or set(range(os.cpu_count() or 1)))
    bridge = Workers(workers, bridge_cores, 100_000)
    go: GoLoad | None = None
    try:
        await bridge.ready(http)
        if generator == "go":
            go = await GoLoad.start(
                bridge.port,
                sessions=sessions,
                chunk_ms=chunk_ms,
                seconds=seconds,
                sessions_per_conn=SESSIONS_PER_CONNECTION,
                core=min(load_cores) if load_cores else None,
            )
            await go.streaming()
            load_cpu = go.cpu_s
        else:
            tag = f"{setup}-{sessions}-{time.monotonic_ns()}"
            load = await start_load(
                bridge.port, sink, sessions=sessions, chunk_ms=chunk_ms, seconds=seconds, tag=tag
            )
            load_cpu = self_cpu
        cpu0, load0, t0 = bridge.cpu_s(), load_cpu(), time.perf_counter()
        samples: list[list[tuple[float, int]]] = []
        while time.perf_counter() - t0 < seconds - 0.5:
            samples.append(await bridge.gauges(http))
            await asyncio.sleep(0.2)
        cpu1, load1, t1 = bridge.cpu_s(), load_cpu(), time.perf_counter()
        if go is not None:
            summary = await go.result()
        else:
            summary = await lite_load.summary(load)
    finally:
        bridge.stop()
    window = t1 - t0
    bridge_cpu = [100 * (b - a) / window for a, b in zip(cpu0, cpu1, strict=True)]
    middle = samples[len(samples) // 2] if samples else [(0.0, 0)] * workers
    return ScaleStep(
        setup=setup,
        workers=workers,
        sessions=sessions,
        chunk_ms=chunk_ms,
        ok_calls=summary["ok_calls"],
        errors=summary["errors"],
        starvations=summary["starvations"],
        latency_p50_ms=summary["latency_p50_ms"],
        latency_p99_ms=summary["latency_p99_ms"],
        lag_max_ms=max((lag for sample in samples for lag, _ in sample), default=0.0),
        sessions_per_worker=[live for _, live in middle],
        worker_cpu_pct=bridge_cpu,
        bridge_ms_per_session_s=10 * sum(bridge_cpu) / sessions,
        load_cpu_pct=100 * (load1 - load0) / window,
        load_ms_per_session_s=1000 * (load1 - load0) / (window * sessions),
        load_average=list(os.getloadavg()),
        generator=generator,
    )


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "# Two-core scale benchmark (`make bench-scale`)",
        "",
        f"{describe(report['machine'], 'python', 'grpcio')} Goals per step: 0 errors, "
        f"0 starvation, packet latency p99 < {GOAL_P99_MS:.0f} ms, smoothed loop lag < "
        f"{GOAL_LAG_MS:.0f} ms in every worker.",
        "",
        f"Load generator: {report['steps'][0]['generator'] if report['steps'] else '-'}.",
        "",
        "| setup | sessions | chunk ms | goals met | per worker | latency p50 / p99 ms | "
        "lag max ms | worker CPU % | bridge ms/session-s | load gen CPU % | "
        "load ms/session-s | errors | starvation | load avg |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in report["steps"]:
        lines.append(
            f"| {s['setup']} | {s['sessions']} | {s['chunk_ms']} | {s['passed']} | "
            f"{'/'.join(map(str, s['sessions_per_worker']))} | "
            f"{s['latency_p50_ms']:.1f} / {s['latency_p99_ms']:.1f} | {s['lag_max_ms']:.1f} | "
            f"{' + '.join(f'{c:.0f}' for c in s['worker_cpu_pct'])} | "
            f"{s['bridge_ms_per_session_s']:.2f} | {s['load_cpu_pct']:.0f} | "
            f"{s['load_ms_per_session_s']:.2f} | {s['errors']} | {s['starvations']} | "
            f"{s['load_average'][0]:.2f} |"
        )
    return "\n".join(lines) + "\n"


async def main(args: argparse.Namespace) -> None:
    lite_load.SESSIONS_PER_CHANNEL = SESSIONS_PER_CONNECTION
    sink = Sink()
    await sink.start()
    report: dict[str, Any] = {"machine": machine(), "steps": []}
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            for sessions in args.steps:
                # Interleaved: each step size runs in every set-up back to back.
                for setup in args.setups:
                    step = await run_step(
                        sink, http, setup, sessions, args.chunk_ms, args.seconds, args.generator
                    )
                    row = asdict(step) | {"passed": step.passed}
                    report["steps"].append(row)
                    print(json.dumps(row), flush=True)
    finally:
        await sink.close()
    write_report("scale", report, markdown)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--chunk-ms", type=int, default=100)
    parser.add_argument("--steps", type=ints, default=ints("300,500,700,900"))
    parser.add_argument(
        "--setups", type=lambda t: t.split(","), default=list(SETUPS), help="comma-separated"
    )
    parser.add_argument(
        "--generator",
        choices=("go", "python"),
        default="go" if available() else "python",
        help="load generator and sink: go (benchmarks/go, about half the Python one's CPU, the "
        "default where installed) or python (lite_load + sink in this process)",
    )
    asyncio.run(main(parser.parse_args()))
