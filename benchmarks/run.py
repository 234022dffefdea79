"""The bridge benchmark: CPU per audio-second against a direct client, latency, capacity, memory.

`make bench` (quick, under 3 minutes) or `make bench-long`. The bridge runs as its own process
pinned to core 0 (taskset); this process (load generator and LITE sink) pins itself to core 1.
Results go to benchmarks/results/latest.{md,json,png}. See the README's Performance section.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from avatar_bridge import event_loop
from benchmarks import lite_load
from benchmarks.common import (
    GOAL_LAG_MS,
    GOAL_P99_MS,
    RESULTS,
    cpu_s,
    machine,
    py_spy,
    rss_mb,
    write_report,
)
from benchmarks.common import ints as _ints
from benchmarks.common import self_cpu as _self_cpu
from benchmarks.floor import MODES
from benchmarks.go.load import GoLoad, available
from benchmarks.lite_load import start_load
from benchmarks.sink import Sink

BRIDGE_CORE, LOAD_CORE = 0, 1
DEFAULT_UVLOOP = event_loop.resolve("auto") == "uvloop"
"""Steps run on the server's default loop."""


@dataclass
class Step:
    """One run of N real-time sessions through one fresh bridge process."""

    sessions: int
    chunk_ms: int
    seconds: float
    uvloop: bool
    ok_calls: int
    errors: int
    starvations: int
    packets: int
    latency_p50_ms: float
    latency_p99_ms: float
    latency_max_ms: float
    lag_p50_ms: float
    lag_p99_ms: float
    lag_max_ms: float
    bridge_cpu_pct: float
    """Bridge CPU over the streaming window, % of one core."""
    cpu_ms_per_audio_s: float
    load_cpu_pct: float
    """The load generator's own CPU (its core saturating makes latencies look worse)."""
    rss_start_mb: float
    idle_kb_per_session: float
    streaming_kb_per_session: float
    rss_after_mb: float
    generator: str = "python"
    """The load generator and sink: python (lite_load + sink) or go (benchmarks/go)."""
    gc: dict[str, float] = field(default_factory=dict)
    """The bridge's collector pauses over the window, per generation (bridge_proc's report)."""
    spread_s: float = 0.0
    """Go generator only: sessions start their audio at random times within this long (0: all
    within one chunk period)."""
    steady_p99_ms: float | None = None
    """Go generator only: packet p99 without the first and last second (the synchronized
    utterance starts and ends of every session)."""
    cyclic_garbage: int = 0
    """Objects a full collection freed once every session had ended: what only the collector
    (not reference counting) would ever have returned."""
    timeline: list[list[float]] = field(default_factory=list)
    """Go generator only: [start s, packets, p99 ms, max ms] per 250 ms of arrival time."""

    @property
    def gc_max_ms(self) -> float:
        """The longest collector pause over the window, any generation."""
        return max((v for k, v in self.gc.items() if k.endswith("_max_ms")), default=0.0)

    @property
    def passed(self) -> bool:
        return (
            self.errors == 0
            and self.ok_calls == self.sessions
            and self.latency_p99_ms < GOAL_P99_MS
            and self.lag_p99_ms < GOAL_LAG_MS
        )


class BridgeProcess:
    """benchmarks.bridge_proc in a child process pinned to one core."""

    def __init__(self, *, uvloop: bool, extra: tuple[str, ...] = ()) -> None:
        args = ["taskset", "-c", str(BRIDGE_CORE), sys.executable, "-m", "benchmarks.bridge_proc"]
        # `--code=DIR`: the bridge's package from another checkout's server/ (before/after).
        code = [flag.split("=", 1)[1] for flag in extra if flag.startswith("--code=")]
        # `--env=NAME=VALUE`: an environment setting read at import (GRPC_EXPERIMENTS, say).
        settings = dict(
            flag.split("=", 1)[1].split("=", 1) for flag in extra if flag.startswith("--env=")
        )
        extra = tuple(flag for flag in extra if not flag.startswith(("--code=", "--env=")))
        env = os.environ | settings | ({"PYTHONPATH": code[0]} if code else {})
        self.proc = subprocess.Popen(
            [*args, "--uvloop" if uvloop else "--asyncio", *extra],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        self.port = int(line.split()[1])

    def command(self, line: str) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        if line not in ("report", "collect"):
            return {}
        result: dict[str, Any] = json.loads(self.proc.stdout.readline())
        return result

    def cpu_s(self) -> float:
        return cpu_s(self.proc.pid)

    def rss_mb(self) -> float:
        return rss_mb(self.proc.pid)

    def quit(self) -> None:
        self.command("quit")
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


async def run_step(
    sink: Sink,
    sessions: int,
    chunk_ms: int,
    seconds: float,
    uvloop: bool,
    profile: Path | None = None,
    extra: tuple[str, ...] = (),
    generator: str = "python",
    spread_s: float = 0.0,
) -> Step:
    bridge = BridgeProcess(uvloop=uvloop, extra=extra)
    go: GoLoad | None = None
    try:
        await asyncio.sleep(0.5)
        rss_start = bridge.rss_mb()
        if generator == "go":
            go = await GoLoad.start(
                bridge.port,
                sessions=sessions,
                chunk_ms=chunk_ms,
                seconds=seconds,
                spread_s=spread_s,
                core=LOAD_CORE,
            )
            await go.streaming()
        else:
            tag = f"s{sessions}-{chunk_ms}-{time.monotonic_ns()}"
            load = await start_load(
                bridge.port, sink, sessions=sessions, chunk_ms=chunk_ms, seconds=seconds, tag=tag
            )
        rss_idle = bridge.rss_mb()
        bridge.command("reset")
        spy = None
        if profile is not None:
            record = _perf if profile.suffix == ".data" else _py_spy
            spy = await record(bridge.proc.pid, seconds, profile)
        load_cpu = go.cpu_s if go is not None else _self_cpu
        cpu0, load0, t0 = bridge.cpu_s(), load_cpu(), time.perf_counter()
        await asyncio.sleep(seconds / 2)
        rss_streaming = bridge.rss_mb()
        await asyncio.sleep(seconds / 2)
        cpu1, load1, t1 = bridge.cpu_s(), load_cpu(), time.perf_counter()
        lag = bridge.command("report")
        if spy is not None:
            await spy.wait()
        summary = await go.result() if go is not None else await lite_load.summary(load)
        await asyncio.sleep(1.0)
        rss_after = bridge.rss_mb()
        garbage = bridge.command("collect")
    finally:
        bridge.quit()
    window = t1 - t0
    return Step(
        sessions=sessions,
        chunk_ms=chunk_ms,
        seconds=seconds,
        uvloop=uvloop,
        ok_calls=summary["ok_calls"],
        errors=summary["errors"],
        starvations=summary["starvations"],
        packets=summary["packets"],
        latency_p50_ms=summary["latency_p50_ms"],
        latency_p99_ms=summary["latency_p99_ms"],
        latency_max_ms=summary["latency_max_ms"],
        lag_p50_ms=lag["lag_p50_ms"],
        lag_p99_ms=lag["lag_p99_ms"],
        lag_max_ms=lag["lag_max_ms"],
        bridge_cpu_pct=100 * (cpu1 - cpu0) / window,
        cpu_ms_per_audio_s=1000 * (cpu1 - cpu0) / (sessions * window),
        load_cpu_pct=100 * (load1 - load0) / window,
        rss_start_mb=rss_start,
        idle_kb_per_session=1024 * (rss_idle - rss_start) / sessions,
        streaming_kb_per_session=1024 * (rss_streaming - rss_start) / sessions,
        rss_after_mb=rss_after,
        generator=generator,
        gc={key: value for key, value in lag.items() if key.startswith("gc")},
        timeline=summary.get("timeline", []),
        cyclic_garbage=garbage["freed"],
        steady_p99_ms=summary.get("steady_p99_ms"),
        spread_s=spread_s if go is not None else 0.0,
    )


def _row(step: Step) -> dict[str, Any]:
    """A step as the report keeps it: its fields, its derived figures and the load average."""
    return asdict(step) | {
        "passed": step.passed,
        "gc_max_ms": step.gc_max_ms,
        "load_average": os.getloadavg(),
    }


async def _py_spy(pid: int, seconds: float, out: Path) -> asyncio.subprocess.Process:
    """Sample the bridge for the streaming window; collapsed stacks, one per line."""
    return await py_spy(pid, seconds, str(out), "--nonblocking")


async def _perf(pid: int, seconds: float, out: Path) -> asyncio.subprocess.Process:
    """Sample the bridge's native stacks (gRPC's C core, the interpreter, the kernel) with perf;
    `perf report -i FILE --no-children --sort dso,sym` reads them."""
    return await asyncio.create_subprocess_exec(
        "perf",
        "record",
        "-F",
        "499",
        "-g",
        "-p",
        str(pid),
        "-o",
        str(out),
        "--",
        "sleep",
        str(int(seconds)),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def run_baseline(
    sink: Sink, sessions: int, chunk_ms: int, seconds: float, packets: tuple[int, int] = (600, 1000)
) -> float:
    """CPU ms per audio-second of the direct WebSocket client, pinned to the bridge's core;
    `packets`: its first and later packet sizes in ms (the anchors' by default)."""
    proc = await asyncio.create_subprocess_exec(
        "taskset",
        "-c",
        str(BRIDGE_CORE),
        sys.executable,
        "-m",
        "benchmarks.baseline_client",
        "--port",
        str(sink.port),
        "--sessions",
        str(sessions),
        "--chunk-ms",
        str(chunk_ms),
        "--seconds",
        str(seconds),
        "--tag",
        f"base-{time.monotonic_ns()}",
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    result = json.loads(out.decode().strip().splitlines()[-1])
    return float(1000 * result["cpu_s"] / result["audio_s"])


async def main(args: argparse.Namespace) -> None:
    if "go" in args.generator and not available():
        raise SystemExit("--generator go needs golang-go and golang-google-grpc-dev (see .ci/run)")
    os.sched_setaffinity(0, {LOAD_CORE})
    sink = Sink()
    await sink.start()
    if args.profile:
        sessions, chunk_ms = args.profile
        suffix = "data" if args.perf else "txt"
        out = RESULTS / f"profile-{sessions}x{chunk_ms}ms.{suffix}"
        step = await run_step(
            sink,
            sessions,
            chunk_ms,
            args.seconds,
            not args.asyncio,
            profile=out,
            generator=args.generator[0],
        )
        print(json.dumps(asdict(step)))
        await sink.close()
        return
    if args.compare:
        await compare(sink, args)
        await sink.close()
        return
    report: dict[str, Any] = {"machine": machine(), "steps": [], "cpu": []}
    try:
        for chunk_ms, steps in ((100, args.steps_100), (20, args.steps_20)):
            failures = 0
            for n in steps:
                for use_uvloop, generator in itertools.product(
                    (True, False) if args.uvloop else (DEFAULT_UVLOOP,), args.generator
                ):
                    step = await run_step(
                        sink,
                        n,
                        chunk_ms,
                        args.seconds,
                        use_uvloop,
                        generator=generator,
                        spread_s=args.spread_s,
                    )
                    row = _row(step)
                    report["steps"].append(row)
                    print(json.dumps({k: v for k, v in row.items() if k != "timeline"}), flush=True)
                    failures = 0 if step.passed else failures + 1
                if failures >= 2:
                    break
        # CPU per audio-second against the direct clients, side by side in the same run, at
        # several session counts: a bridge process's fixed and per-wake-up costs weigh most at
        # few sessions. Reuses the capacity steps' bridge figures where the counts match.
        report["cpu"] = []
        for n in args.cpu_sessions:
            step = next(
                (
                    Step(**{k: v for k, v in row.items() if k in Step.__dataclass_fields__})
                    for row in report["steps"]
                    if row["sessions"] == n
                    and row["chunk_ms"] == 100
                    and row["uvloop"] == DEFAULT_UVLOOP
                ),
                None,
            )
            if step is None:
                step = await run_step(
                    sink, n, 100, args.seconds, DEFAULT_UVLOOP, generator=args.generator[0]
                )
                report["steps"].append(_row(step))
                report["steps"].sort(key=lambda row: (-row["chunk_ms"], row["sessions"]))
            baseline = await run_baseline(sink, n, 100, args.seconds)
            same_packets = await run_baseline(sink, n, 100, args.seconds, (100, 100))
            row = {
                "sessions": n,
                "bridge_ms_per_audio_s": step.cpu_ms_per_audio_s,
                "bridge_cpu_pct": step.bridge_cpu_pct,
                "baseline_ms_per_audio_s": baseline,
                "ratio": step.cpu_ms_per_audio_s / baseline,
                "baseline_100ms_packets_ms_per_audio_s": same_packets,
                "ratio_100ms_packets": step.cpu_ms_per_audio_s / same_packets,
                "load_average": os.getloadavg(),
            }
            report["cpu"].append(row)
            print(json.dumps(row), flush=True)
        # The floor under the ratio: grpc.aio receiving the same clients with no bridge behind
        # it, and the barest relay over it (benchmarks/floor.py), beside the same baseline.
        report["floor"] = []
        for n in args.floor_sessions:
            cpu_row = next((row for row in report["cpu"] if row["sessions"] == n), None)
            baseline = (
                cpu_row["baseline_ms_per_audio_s"]
                if cpu_row is not None
                else await run_baseline(sink, n, 100, args.seconds)
            )
            floor_row: dict[str, Any] = {"sessions": n, "baseline_ms_per_audio_s": baseline}
            for mode in MODES:
                step = await run_step(
                    sink,
                    n,
                    100,
                    args.seconds,
                    DEFAULT_UVLOOP,
                    extra=(f"--floor={mode}",),
                    generator=args.generator[0],
                )
                floor_row[f"{mode}_ms_per_audio_s"] = step.cpu_ms_per_audio_s
                floor_row[f"{mode}_ratio"] = step.cpu_ms_per_audio_s / baseline
            floor_row["load_average"] = os.getloadavg()
            report["floor"].append(floor_row)
            print(json.dumps(floor_row), flush=True)
    finally:
        await sink.close()
    if args.first_speech:
        from benchmarks.first_speech import measure

        report["first_speech"] = await measure(args.first_speech_repeats)
    write_results(report)


async def compare(sink: Sink, args: argparse.Namespace) -> None:
    """A/B in one run: the bridge with `--compare` flags against the bridge as it is, alternated
    `--repeats` times at each `--compare-sessions` count (`--compare-chunk-ms` chunks)."""
    flags = tuple(f"--{flag}" for flag in args.compare.split(","))
    rows = []
    for sessions in args.compare_sessions:
        for repeat in range(args.repeats):
            for variant in (flags, ()):
                step = await run_step(
                    sink,
                    sessions,
                    args.compare_chunk_ms,
                    args.seconds,
                    DEFAULT_UVLOOP,
                    extra=variant,
                    generator=args.generator[0],
                    spread_s=args.spread_s,
                )
                row = {
                    "variant": " ".join(variant) or "default",
                    "repeat": repeat,
                    "load_average": os.getloadavg(),
                } | asdict(step)
                rows.append(row)
                print(
                    f"{row['variant']:>20} n={sessions:<5} cpu {step.cpu_ms_per_audio_s:.3f} ms/s "
                    f"({step.bridge_cpu_pct:.0f} %) p99 {step.latency_p99_ms:.1f} ms "
                    f"steady {step.steady_p99_ms or 0:.1f} ms lag p99 {step.lag_p99_ms:.1f} ms "
                    f"gc max {step.gc_max_ms:.0f} ms "
                    f"errors {step.errors} "
                    f"load {os.getloadavg()[0]:.2f}",
                    flush=True,
                )
    RESULTS.mkdir(exist_ok=True)
    label = re.sub(r"[^A-Za-z0-9-]+", "_", args.compare.replace(",", "+").replace("+", "_and_"))
    out = RESULTS / f"compare-{label}.json"
    out.write_text(json.dumps({"machine": machine(), "rows": rows}, indent=2) + "\n")


def write_results(report: dict[str, Any]) -> None:
    from benchmarks.report import markdown, plot

    write_report("latest", report, markdown)
    plot(report, RESULTS / "latest.png")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--cpu-sessions", type=_ints, default=_ints("1000"))
    parser.add_argument(
        "--floor-sessions",
        type=_ints,
        default=_ints("1000"),
        help="session counts at which to measure the CPU floor (benchmarks/floor.py: "
        "grpc.aio receiving alone, and the barest relay) beside the direct baseline",
    )
    parser.add_argument("--steps-100", type=_ints, default=_ints("100,500,1000"))
    parser.add_argument("--steps-20", type=_ints, default=_ints("250"))
    parser.add_argument(
        "--uvloop", action="store_true", help="repeat each step under asyncio's loop beside uvloop"
    )
    parser.add_argument(
        "--generator",
        type=lambda text: text.split(","),
        default=["go"] if available() else ["python"],
        help="go|python|go,python: the capacity steps' load generator and sink (both: side by "
        "side); go (the default where Go and Debian's gRPC Go packages are installed) runs "
        "benchmarks/go/loadgen pinned to the load core, at about half the Python one's CPU",
    )
    parser.add_argument(
        "--spread-s",
        type=float,
        default=0.0,
        help="Go generator: start each session's audio at a random time within this many "
        "seconds (0: every utterance starts and ends within one chunk period of the others)",
    )
    parser.add_argument("--asyncio", action="store_true", help="with --profile: asyncio's loop")
    parser.add_argument(
        "--profile",
        type=_ints,
        help="SESSIONS,CHUNK_MS: one step under py-spy (collapsed stacks in results/), then exit",
    )
    parser.add_argument(
        "--perf", action="store_true", help="with --profile: perf's native stacks, not py-spy's"
    )
    parser.add_argument(
        "--compare",
        help="FLAG[,FLAG]: A/B the bridge with these bridge_proc flags (no dashes) against "
        "the default, alternated; writes results/compare-FLAGS.json. Also code=DIR (another "
        "checkout's server/) and env=NAME=VALUE (an environment setting)",
    )
    parser.add_argument("--compare-sessions", type=_ints, default=_ints("300,1000"))
    parser.add_argument("--compare-chunk-ms", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--no-first-speech", dest="first_speech", action="store_false")
    parser.add_argument("--first-speech-repeats", type=int, default=1)
    # The load generator and sink on uvloop too: their core saturating would read as bridge
    # latency at 1,000 sessions.
    event_loop.run(main(parser.parse_args()), "auto")
