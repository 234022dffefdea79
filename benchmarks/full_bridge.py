"""The bridge as the FULL benchmark runs it: one process with the FULL leg, commands on stdin.

Prints `port <n>` once listening. Stdin lines: `reset` forgets lag samples, `report` prints one
JSON line with the event loop's lag percentiles, `quit` shuts down. Run by
benchmarks.full_bench, pinned to one core with taskset.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from avatar_bridge.config import Limits, ServerConfig
from avatar_bridge.full.leg import connect_full_leg
from avatar_bridge.server import BridgeServer
from benchmarks.bridge_proc import serve


async def main(api_url: str, api_key: str, max_sessions: int) -> None:
    config = ServerConfig(
        listen="127.0.0.1:0",
        api_url=api_url,
        api_key=api_key,
        limits=Limits(max_sessions=max_sessions),
    )
    await serve(BridgeServer(config, full_leg=connect_full_leg))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api-url", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--max-sessions", type=int, default=1000)
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args()
    logging.basicConfig(level=args.log_level, stream=sys.stderr)
    asyncio.run(main(args.api_url, args.api_key, args.max_sessions))
