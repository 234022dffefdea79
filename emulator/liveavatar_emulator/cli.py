"""``liveavatar-emulator``: run the emulator standalone until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import logging
import signal
import sys
from collections.abc import Sequence
from importlib.metadata import version
from typing import get_args

from .config import EmulatorConfig, EventProfile, OversizePolicy, StarvationEvent
from .full import FullModeConfig, LiveKitFullBackend
from .runner import Emulator


def build_parser() -> argparse.ArgumentParser:
    """Command-line options (a subset of ``EmulatorConfig``)."""
    p = argparse.ArgumentParser(prog="liveavatar-emulator", description=__doc__)
    d = EmulatorConfig()
    p.add_argument("--version", action="version", version=f"%(prog)s {version('avatar-bridge')}")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8900)
    p.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        help=f"accepted X-API-KEY (repeatable; default {d.api_keys[0]!r})",
    )
    p.add_argument("--time-scale", type=float, default=d.time_scale)
    p.add_argument("--idle-timeout", type=float, default=d.idle_timeout_s, help="seconds")
    p.add_argument("--sandbox-limit", type=float, default=d.sandbox_limit_s, help="seconds")
    p.add_argument("--tier-max-duration", type=int, default=d.tier_max_session_duration_s)
    p.add_argument("--connect-delay", type=float, default=d.lite_connect_delay_s)
    p.add_argument(
        "--lite-event-profile", choices=get_args(EventProfile), default=d.lite_event_profile
    )
    p.add_argument("--oversize-policy", choices=get_args(OversizePolicy), default=d.oversize_policy)
    p.add_argument(
        "--starvation-event", choices=get_args(StarvationEvent), default=d.starvation_event
    )
    p.add_argument("--public-host", default=None, help="host in ws_url (default: --host)")
    p.add_argument(
        "--livekit-url",
        default=None,
        help="livekit_url handed to clients (default: the built-in LiveKit server's ws:// URL)",
    )
    p.add_argument(
        "--livekit-port",
        type=int,
        default=7880,
        help="port of the built-in LiveKit-compatible server (0 = any free port)",
    )
    p.add_argument(
        "--no-livekit",
        action="store_true",
        help="run without the LiveKit server (no rooms, no avatar media, no FULL mode)",
    )
    p.add_argument(
        "--cors-origin",
        action="append",
        dest="cors_origins",
        help="origin allowed to call the REST API from a browser (repeatable; default any)",
    )
    p.add_argument("--full-agent-token", action="store_true")
    p.add_argument("--log-level", default="info")
    return p


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    """Translate parsed options into a config."""
    d = EmulatorConfig()
    return EmulatorConfig(
        api_keys=tuple(args.api_keys) if args.api_keys else d.api_keys,
        time_scale=args.time_scale,
        idle_timeout_s=args.idle_timeout,
        sandbox_limit_s=args.sandbox_limit,
        tier_max_session_duration_s=args.tier_max_duration,
        lite_connect_delay_s=args.connect_delay,
        lite_event_profile=args.lite_event_profile,
        oversize_policy=args.oversize_policy,
        starvation_event=args.starvation_event,
        public_host=args.public_host or _reachable(args.host),
        livekit_url=args.livekit_url or d.livekit_url,
        full_agent_token=args.full_agent_token,
        cors_origins=tuple(args.cors_origins) if args.cors_origins else d.cors_origins,
    )


def full_config_from_args(args: argparse.Namespace) -> FullModeConfig:
    """The built-in LiveKit server: same host as the REST API, tokens it will accept."""
    return FullModeConfig(
        host=args.host,
        port=args.livekit_port,
        public_url=args.livekit_url or "",
        full_agent_token=args.full_agent_token,
    )


def _reachable(host: str) -> str:
    """A host clients can dial: wildcard binds advertise loopback in ``ws_url``."""
    return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)


async def _serve(config: EmulatorConfig, host: str, port: int, full: FullModeConfig | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with contextlib.AsyncExitStack() as stack:
        backend = None
        if full is not None:
            backend = await stack.enter_async_context(LiveKitFullBackend(full))
        emulator = await stack.enter_async_context(
            Emulator(config, host=host, port=port, full_backend=backend, log_level="warning")
        )
        print(f"LiveAvatar emulator: {emulator.base_url}", flush=True)
        if backend is not None:
            print(f"LiveKit server: {backend.livekit_url}", flush=True)
        print(f"API key: {config.api_keys[0]}", flush=True)
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    full = None if args.no_livekit else full_config_from_args(args)
    try:
        asyncio.run(_serve(config_from_args(args), args.host, args.port, full))
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        sys.exit(
            f"liveavatar-emulator: cannot listen on {args.host}:{args.port} or its LiveKit port: "
            "the port is in use (`make run` embeds an emulator on 8900 and LiveKit on 7880 "
            "already: use it, or pick other ports with --port and --livekit-port)."
        )


if __name__ == "__main__":
    main()
