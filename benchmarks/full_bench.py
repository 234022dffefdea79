"""The FULL benchmark: USER sessions publishing real-time microphone audio through the bridge.

`make bench-full` (or `python -m benchmarks.full_bench`). WebRTC ignores loopback, so this
re-runs itself inside tests/netns/run.sh's private network namespace. Each step starts a fresh
bridge (benchmarks.full_bridge) pinned to core 0 and a fresh peer (benchmarks.full_peer: the
emulator and its LiveKit-compatible server, which decodes every microphone track) pinned to
core 1, where this process (the gRPC clients) runs too. N sessions connect, stream a tone then
silence in real time, and half-close (benchmarks.full_load).

Per step: bridge CPU % of its core over the streaming window and per audio-second, the peer's
CPU (a saturated peer makes the lags look worse than the bridge is), time to CONNECTED
p50/p90/max, the speech-end lag (audio queued on the way) and session end after the last
audio's playout, end reasons, and file descriptors, threads and RSS per session
(/proc/<pid>/fd, /proc/<pid>/task, VmRSS, each with the sessions connected less the idle
bridge). Results: benchmarks/results/full_latest.{md,json}.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.common import RESULTS, cpu_s, describe, machine, pct, py_spy, rss_mb, self_cpu
from benchmarks.full_load import SessionResult, run_sessions
from benchmarks.full_peer import API_KEY

ROOT = Path(__file__).resolve().parent.parent
BRIDGE_CORE, PEER_CORE = 0, 1
HANGOVER_S = 0.5
"""The emulated agent's voice-detection hangover (FullModeConfig.vad_hangover_ms)."""
CLIENT_ENDED = "STOP_REASON_CLIENT_ENDED"
NAN = float("nan")
"""A figure nothing was measured for (shown as `-`)."""
GOAL_LAG_S = 1.0
"""Issue 9: half-close within 1 s of the last audio's playout."""


class Child:
    """A benchmark process pinned to one core, speaking line commands on stdin/stdout."""

    def __init__(self, core: int, module: str, *args: str, code: str = "") -> None:
        env = dict(os.environ)
        if code:  # Another checkout's avatar_bridge (the baseline) ahead of this one's.
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [code, env.get("PYTHONPATH")]))
        self.proc = subprocess.Popen(
            ["taskset", "-c", str(core), sys.executable, "-m", module, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=env,
        )

    def line(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def command(self, line: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        if line != "report":
            return {}
        result: dict[str, Any] = json.loads(self.line())
        return result

    def cpu_s(self) -> float:
        return cpu_s(self.proc.pid)

    def usage(self) -> tuple[int, int, float]:
        """(open file descriptors, threads, RSS in MB)."""
        base = Path(f"/proc/{self.proc.pid}")
        return len(os.listdir(base / "fd")), len(os.listdir(base / "task")), rss_mb(self.proc.pid)

    def thread_cpu(self) -> dict[str, float]:
        """CPU seconds per thread name (digits dropped: one entry per kind of thread)."""
        out: dict[str, float] = {}
        for task in Path(f"/proc/{self.proc.pid}/task").iterdir():
            try:
                comm = (task / "comm").read_text().strip()
                cpu = cpu_s(self.proc.pid, int(task.name))
            except OSError:
                continue  # The thread ended meanwhile.
            name = comm.rstrip("0123456789-_ ") or comm
            out[name] = out.get(name, 0.0) + cpu
        return out

    def thread_names(self) -> dict[str, int]:
        """Threads per name (digits dropped), most first."""
        names: Counter[str] = Counter()
        for task in Path(f"/proc/{self.proc.pid}/task").iterdir():
            with contextlib.suppress(OSError):
                comm = (task / "comm").read_text().strip()
                names[comm.rstrip("0123456789-_ ") or comm] += 1
        return dict(names.most_common())

    def quit(self) -> None:
        with _suppress():
            self.command("quit")
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class _suppress:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return exc[0] is not None and issubclass(exc[0], (BrokenPipeError, OSError))  # type: ignore[arg-type]


@dataclass
class Step:
    """One run of N USER sessions through a fresh bridge and peer."""

    variant: str
    """The bridge's code: "this" checkout, or the baseline's server/ directory."""
    sessions: int
    speech_s: float
    chunk_ms: int
    connected: int
    ended_ok: int
    end_reasons: dict[str, int]
    errors: dict[str, int]
    warnings: dict[str, int]
    connect_p50_s: float
    connect_p90_s: float
    connect_max_s: float
    speech_end_lag_p50_s: float
    speech_end_lag_max_s: float
    speech_end_missing: int
    split_speech: int
    """Sessions whose tone the agent heard as more than one segment (gaps in the audio)."""
    end_after_audio_p50_s: float
    end_after_audio_max_s: float
    bridge_cpu_pct: float
    """Bridge CPU over the streaming window, % of one core."""
    cpu_ms_per_audio_s: float
    peer_cpu_pct: float
    load_cpu_pct: float
    lag_p99_ms: float
    fds_idle: int
    threads_idle: int
    fds_per_session: float
    threads_per_session: float
    rss_idle_mb: float
    rss_per_session_mb: float
    fds_after: int
    threads_after: int
    load_avg: str
    cpu_pct_by_thread: dict[str, float]
    threads_by_name: dict[str, int]
    """The bridge's threads with the sessions connected, by name."""
    """The bridge's CPU over the window by thread name, % of one core (top ones)."""

    @property
    def passed(self) -> bool:
        return (
            self.ended_ok == self.sessions
            and self.speech_end_missing == 0
            and self.split_speech == 0
            and self.speech_end_lag_max_s < GOAL_LAG_S
            and self.end_after_audio_max_s < GOAL_LAG_S
        )


def _thread_share(
    before: dict[str, float], after: dict[str, float], window: float
) -> dict[str, float]:
    """% of one core per thread name over the window, the top 8 (threads that ended: lost)."""
    share = {k: 100 * (v - before.get(k, 0.0)) / window for k, v in after.items()}
    top = sorted(share.items(), key=lambda kv: -kv[1])[:8]
    return {k: round(v, 1) for k, v in top if v > 0}


async def run_step(sessions: int, args: argparse.Namespace, code: str = "") -> Step:
    peer = Child(PEER_CORE, "benchmarks.full_peer")
    bridge: Child | None = None
    try:
        api_url = peer.line().split()[1]
        peer.line()  # livekit <url>
        bridge = Child(
            BRIDGE_CORE,
            "benchmarks.full_bridge",
            "--api-url",
            api_url,
            "--api-key",
            API_KEY,
            code=code,
        )
        port = int(bridge.line().split()[1])
        await asyncio.sleep(1.0)
        fds0, threads0, rss0 = bridge.usage()
        streaming = asyncio.Event()
        load = asyncio.create_task(
            run_sessions(
                port,
                sessions=sessions,
                speech_s=args.seconds,
                tail_s=args.tail,
                chunk_ms=args.chunk_ms,
                ramp_per_s=args.ramp,
                hangover_s=HANGOVER_S,
                on_streaming=streaming,
            )
        )
        await streaming.wait()
        fds1, threads1, rss1 = bridge.usage()
        names = bridge.thread_names()
        bridge.command("reset")
        spy = None
        if args.profile:
            spy = await _py_spy(bridge.proc.pid, args.seconds, args.profile, sessions)
        by_thread0 = bridge.thread_cpu()
        cpu0, peer0, load0, t0 = bridge.cpu_s(), peer.cpu_s(), self_cpu(), time.perf_counter()
        await asyncio.sleep(args.seconds)
        cpu1, peer1, load1, t1 = bridge.cpu_s(), peer.cpu_s(), self_cpu(), time.perf_counter()
        by_thread = _thread_share(by_thread0, bridge.thread_cpu(), t1 - t0)
        lag = bridge.command("report")
        if spy is not None:
            await spy.wait()
        results, _, _ = await load
        await asyncio.sleep(2.0)
        fds2, threads2, _ = bridge.usage()
    finally:
        if bridge is not None:
            bridge.quit()
        peer.quit()
    return _summary(sessions, args, results, {**locals(), "variant": code or "this"})


def _summary(
    sessions: int, args: argparse.Namespace, results: list[SessionResult], m: dict[str, Any]
) -> Step:
    window = m["t1"] - m["t0"]
    connected = [r.connect_s for r in results if r.connect_s is not None]
    lags = [r.speech_end_lag_s for r in results if r.speech_end_lag_s is not None]
    ends = [r.end_after_audio_s for r in results if r.end_after_audio_s is not None]
    n = max(len(connected), 1)
    return Step(
        variant=m["variant"],
        sessions=sessions,
        speech_s=args.seconds,
        chunk_ms=args.chunk_ms,
        connected=len(connected),
        ended_ok=sum(r.status == "OK" and r.end_reason == CLIENT_ENDED for r in results),
        end_reasons=dict(Counter(r.end_reason or "(none)" for r in results)),
        errors=dict(Counter(e for r in results for e in r.errors)),
        warnings=dict(Counter(w for r in results for w in r.warnings)),
        connect_p50_s=pct(connected, 0.5, NAN),
        connect_p90_s=pct(connected, 0.9, NAN),
        connect_max_s=max(connected, default=float("nan")),
        speech_end_lag_p50_s=pct(lags, 0.5, NAN),
        speech_end_lag_max_s=max(lags, default=float("nan")),
        speech_end_missing=len(connected) - len(lags),
        split_speech=sum(r.speech_segments > 1 for r in results),
        end_after_audio_p50_s=pct(ends, 0.5, NAN),
        end_after_audio_max_s=max(ends, default=float("nan")),
        bridge_cpu_pct=100 * (m["cpu1"] - m["cpu0"]) / window,
        cpu_ms_per_audio_s=1000 * (m["cpu1"] - m["cpu0"]) / (n * window),
        peer_cpu_pct=100 * (m["peer1"] - m["peer0"]) / window,
        load_cpu_pct=100 * (m["load1"] - m["load0"]) / window,
        lag_p99_ms=m["lag"]["lag_p99_ms"],
        fds_idle=m["fds0"],
        threads_idle=m["threads0"],
        fds_per_session=(m["fds1"] - m["fds0"]) / n,
        threads_per_session=(m["threads1"] - m["threads0"]) / n,
        rss_idle_mb=m["rss0"],
        rss_per_session_mb=(m["rss1"] - m["rss0"]) / n,
        fds_after=m["fds2"],
        threads_after=m["threads2"],
        load_avg=" ".join(f"{x:.2f}" for x in os.getloadavg()),
        cpu_pct_by_thread=m["by_thread"],
        threads_by_name=m["names"],
    )


async def _py_spy(pid: int, seconds: float, out: str, sessions: int) -> asyncio.subprocess.Process:
    """Sample the bridge (with native frames) over the streaming window; collapsed stacks."""
    return await py_spy(pid, seconds, out.replace("{n}", str(sessions)), "--native", "--threads")


def _fmt(x: float, digits: int = 2) -> str:
    return "-" if x != x else f"{x:.{digits}f}"  # NaN: nothing measured.


def _label(step: Step) -> str:
    return "this" if step.variant == "this" else "baseline"


def markdown(steps: list[Step], info: dict[str, Any], command: str) -> str:
    rows = [
        "| bridge | sessions | ended CLIENT_ENDED | CONNECTED p50 / p90 / max (s) | speech-end lag "
        "p50 / max (s) | end after audio p50 / max (s) | bridge CPU % | CPU ms / audio-s | "
        "peer CPU % | fds / session | threads / session | RSS MB / session | fds, threads "
        "after | pass |",
        "|" + "---|" * 14,
    ]
    for s in steps:
        rows.append(
            f"| {_label(s)} | {s.sessions} | {s.ended_ok}/{s.sessions} | {_fmt(s.connect_p50_s)} / "
            f"{_fmt(s.connect_p90_s)} / {_fmt(s.connect_max_s)} | {_fmt(s.speech_end_lag_p50_s)} / "
            f"{_fmt(s.speech_end_lag_max_s)} | {_fmt(s.end_after_audio_p50_s)} / "
            f"{_fmt(s.end_after_audio_max_s)} | {s.bridge_cpu_pct:.0f} | "
            f"{s.cpu_ms_per_audio_s:.1f} | {s.peer_cpu_pct:.0f} | {s.fds_per_session:.1f} | "
            f"{s.threads_per_session:.2f} | {s.rss_per_session_mb:.2f} | {s.fds_after}, "
            f"{s.threads_after} | {'yes' if s.passed else 'no'} |"
        )
    notes = [
        "",
        f"Each session: {steps[0].speech_s:g} s of tone then silence, {steps[0].chunk_ms} ms "
        "chunks, real time, then half-close. Speech-end lag: `user_speak_ended` after the tone's "
        "playout less the agent's 500 ms hangover (audio queued anywhere on the way). End after "
        "audio: `session_stopped` after the last audio's playout. Bridge on core 0 (taskset), "
        "peer (emulator + LiveKit-compatible server, aiortc decoding every track) and clients on "
        "core 1. Per-session fds/threads/RSS: all sessions connected less the idle bridge.",
        "",
        "End reasons / errors / tones heard as several segments per step: "
        + "; ".join(
            f"{_label(s)} {s.sessions}: {s.end_reasons} {s.errors or ''} split {s.split_speech}"
            for s in steps
        ),
        "",
        f"Machine: {describe(info, 'python', 'livekit')} Load average per step: "
        + ", ".join(f"{_label(s)} {s.sessions}: {s.load_avg}" for s in steps)
        + ".",
        "",
        f"Command: `{command}`",
    ]
    return "\n".join(rows + notes) + "\n"


async def amain(args: argparse.Namespace) -> list[Step]:
    steps = []
    for sessions in args.steps:
        for code in [args.baseline, ""] if args.baseline else [""]:
            step = await run_step(sessions, args, code)
            print(json.dumps(asdict(step)), flush=True)
            steps.append(step)
    return steps


def _in_namespace(argv: list[str]) -> None:
    """Re-run inside tests/netns/run.sh's namespace (WebRTC needs a non-loopback interface)."""
    if os.environ.get("AVATAR_BRIDGE_NETNS") == "1":
        return
    script = ROOT / "tests" / "netns" / "run.sh"
    skip = ["--skip-ok"] if "--skip-ok" in argv else []  # No namespace: say why, exit 0.
    cmd = ["bash", str(script), *skip, sys.executable, "-m", "benchmarks.full_bench", *argv]
    os.execvp("bash", cmd)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default="10,25,50,75", help="sessions per step")
    parser.add_argument("--seconds", type=float, default=10.0, help="tone per session")
    parser.add_argument("--tail", type=float, default=1.5, help="silence after the tone")
    parser.add_argument("--chunk-ms", type=int, default=100)
    parser.add_argument("--ramp", type=float, default=10.0, help="sessions opened per second")
    parser.add_argument("--profile", default="", help="py-spy output path ({n}: sessions)")
    parser.add_argument(
        "--baseline",
        default="",
        help="another checkout's server/ directory: each step runs its bridge first, same run",
    )
    parser.add_argument(
        "--skip-ok",
        action="store_true",
        help="when no network namespace can be made, print why and exit 0 (make bench)",
    )
    parser.add_argument("--out", default=str(RESULTS / "full_latest"))
    argv = sys.argv[1:]
    args = parser.parse_args(argv)
    _in_namespace(argv)
    args.steps = [int(x) for x in args.steps.split(",")]
    if os.cpu_count() and os.cpu_count() >= 2:  # type: ignore[operator]
        os.sched_setaffinity(0, {PEER_CORE})
    info = machine(("livekit",))
    steps = asyncio.run(amain(args))
    command = "python -m benchmarks.full_bench " + " ".join(argv)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".md").write_text(markdown(steps, info, command.strip()))
    payload = {"machine": info, "command": command.strip(), "steps": [asdict(s) for s in steps]}
    out.with_suffix(".json").write_text(json.dumps(payload, indent=2) + "\n")
    print(out.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()
