"""The FULL benchmark's peer: the LiveAvatar emulator with its LiveKit-compatible server.

One process, pinned by benchmarks.full_bench to the core the bridge does not use. It prints
`api <url>` and `livekit <url>` once listening; stdin `quit` stops it. The emulated agent
decodes each session's microphone track (aiortc) and runs its voice detection, so user speech
comes back to the bridge as `user.speak_started` / `user.speak_ended` events.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys

from benchmarks.common import stdin_lines
from liveavatar_emulator import Emulator, EmulatorConfig
from liveavatar_emulator.full import FullModeConfig, LiveKitFullBackend

API_KEY = "bench-full-api-key-0123456789"
HOST = "10.77.0.1"
"""lkva of tests/netns/run.sh's veth pair: WebRTC ignores loopback."""


async def main(host: str, sandbox_limit_s: float) -> None:
    full = FullModeConfig(host=host, port=0, time_scale=0.05, stop_flush_s=0.2)
    config = EmulatorConfig(
        api_keys=(API_KEY,),
        sandbox_limit_s=sandbox_limit_s,
        public_host=host,
        lite_connect_delay_s=0.05,
    )
    async with contextlib.AsyncExitStack() as stack:
        backend = await stack.enter_async_context(LiveKitFullBackend(full))
        emulator = await stack.enter_async_context(
            Emulator(config, host=host, port=0, full_backend=backend, log_level="warning")
        )
        print(f"api {emulator.base_url}", flush=True)
        print(f"livekit {backend.livekit_url}", flush=True)
        async for line in stdin_lines():
            if line == "quit":
                break


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--sandbox-limit", type=float, default=120.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    asyncio.run(main(args.host, args.sandbox_limit))
