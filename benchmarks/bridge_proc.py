"""The bridge as the benchmark runs it: one process, a lag monitor, commands on stdin.

Prints `port <n>` once listening. Stdin lines: `reset` forgets lag samples, `report` prints one
JSON line with the lag percentiles and the garbage collector's pauses since the last reset,
`collect` runs a full collection and prints how many objects it freed (cyclic garbage the sessions
left), `quit` shuts down. Sessions are attached (no REST calls), so
the API URL is never used. Run by benchmarks.run on the server's default loop (uvloop when
installed); `--asyncio` measures asyncio's own loop instead.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import sys
import time
from typing import Any

from avatar_bridge import event_loop, gcpolicy
from avatar_bridge.config import Limits, SecurityConfig, ServerConfig
from avatar_bridge.lag import LagMonitor
from avatar_bridge.server import BridgeServer, grpc_server_options
from benchmarks.common import stdin_lines
from benchmarks.floor import MODES, FloorServer


async def main(
    max_sessions: int,
    gc_freeze: bool = True,
    gc_threshold: tuple[int, ...] | None = None,
    floor: str | None = None,
) -> None:
    config = ServerConfig(
        listen="127.0.0.1:0",
        api_url="http://127.0.0.1:9",
        api_key="bench-unused-key",
        limits=Limits(max_sessions=max_sessions),
        # Sessions attach to the benchmark's sink on loopback, outside the default allowlist.
        security=SecurityConfig(attach_allow=("127.0.0.1",)),
    )
    server = (
        BridgeServer(config) if floor is None else FloorServer(floor, grpc_server_options(config))
    )
    await serve(server, gc_freeze, gc_threshold)


class GcPauses:
    """Collector pauses per generation (count, total and longest), from `gc.callbacks`.

    A full collection over every live session's objects can stall the loop for tens of ms: the
    report tells a latency tail from the collector apart from one from steady queueing."""

    def __init__(self) -> None:
        self._began = 0.0
        self.reset()

    def reset(self) -> None:
        self.pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        else:
            self.pauses[info["generation"]].append(time.perf_counter() - self._began)

    def report(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for gen, spans in self.pauses.items():
            out[f"gc{gen}_count"] = len(spans)
            out[f"gc{gen}_total_ms"] = 1e3 * sum(spans)
            out[f"gc{gen}_max_ms"] = 1e3 * max(spans, default=0.0)
        return out


async def serve(
    server: BridgeServer | FloorServer,
    gc_freeze: bool = True,
    gc_threshold: tuple[int, ...] | None = None,
) -> None:
    """Start `server`, print its port, answer stdin's commands until `quit`, then stop."""
    port = await server.start()
    if gc_freeze:
        gcpolicy.freeze_startup_heap()  # As `avatar-bridge serve` does.
    if gc_threshold is not None:
        gc.set_threshold(*gc_threshold)
    monitor = LagMonitor()
    monitor.start()
    pauses = GcPauses()
    gc.callbacks.append(pauses)
    print(f"port {port}", flush=True)
    async for line in stdin_lines():
        if line == "reset":
            monitor.reset()
            pauses.reset()
        elif line == "report":
            p50, p99, top = monitor.percentiles(0.5, 0.99, 1.0)
            lag = {"lag_p50_ms": p50 * 1e3, "lag_p99_ms": p99 * 1e3, "lag_max_ms": top * 1e3}
            print(json.dumps(lag | pauses.report()), flush=True)
        elif line == "collect":
            began = time.perf_counter()
            freed = gc.collect()
            took = time.perf_counter() - began
            print(json.dumps({"freed": freed, "ms": 1e3 * took}), flush=True)
        elif line == "quit":
            break
    monitor.stop()
    gc.callbacks.remove(pauses)
    await server.stop(2)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-sessions", type=int, default=100_000)
    parser.add_argument("--uvloop", action="store_true", help="uvloop (the server's default)")
    parser.add_argument("--asyncio", action="store_true", help="asyncio's own loop")
    parser.add_argument("--log-level", default="WARNING")
    parser.add_argument(
        "--websockets-send",
        action="store_true",
        help="A/B: every LITE frame through websockets' send(), not the direct framer",
    )
    parser.add_argument(
        "--no-gc-freeze", action="store_true", help="A/B: leave the start-up heap to the GC"
    )
    parser.add_argument(
        "--gc-threshold",
        type=lambda text: tuple(int(x) for x in text.split(":")),
        help="A/B: gc.set_threshold(...) after start-up, e.g. 700:10:10",
    )
    parser.add_argument(
        "--floor",
        choices=MODES,
        help="serve benchmarks.floor's bare Converse instead of the bridge (the CPU floor)",
    )
    args = parser.parse_args()
    if args.websockets_send:
        from avatar_bridge.lite import transport

        transport.write_text_now = lambda ws, payload: False
    logging.basicConfig(level=args.log_level, stream=sys.stderr)
    choice = "asyncio" if args.asyncio else "uvloop" if args.uvloop else "auto"
    event_loop.run(
        main(args.max_sessions, not args.no_gc_freeze, args.gc_threshold, args.floor), choice
    )
