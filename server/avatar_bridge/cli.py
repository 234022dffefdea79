"""`avatar-bridge serve`: run the bridge; with no LiveAvatar key, on the embedded emulator."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import logging
import secrets
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from importlib.metadata import version
from typing import TYPE_CHECKING

from avatar_bridge import config as config_module
from avatar_bridge import logs
from avatar_bridge.config import ServerConfig
from avatar_bridge.server import serve

if TYPE_CHECKING:
    from liveavatar_emulator.full import LiveKitFullBackend

log = logging.getLogger("avatar_bridge")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="avatar-bridge", description="gRPC bridge to LiveAvatar LITE and FULL sessions"
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {version('avatar-bridge')}"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser(
        "serve",
        help="run the bridge (on the embedded emulator when LIVEAVATAR_API_KEY is unset)",
    )
    config_module.add_arguments(serve_parser)
    args = parser.parse_args(argv)
    config = config_module.from_sources(args)
    logs.configure(config.log_level, config.log_format)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run(config))


async def _run(config: ServerConfig) -> None:
    if not config.uses_emulator:
        await serve(config)
        return
    async with embedded_emulator(config) as emulated:
        await serve(emulated)


@contextlib.asynccontextmanager
async def embedded_emulator(config: ServerConfig) -> AsyncIterator[ServerConfig]:
    """Start the LiveAvatar emulator in this process and point the config at it."""
    try:
        from liveavatar_emulator import Emulator, EmulatorConfig
    except ImportError as exc:
        raise SystemExit(
            "avatar-bridge: LIVEAVATAR_API_KEY is not set and the emulator is not installed "
            "(the production image has none): set LIVEAVATAR_API_KEY"
        ) from exc

    key = "emu-" + secrets.token_hex(16)
    async with contextlib.AsyncExitStack() as stack:
        try:
            full_backend = await _start_full_backend(stack, config)
        except OSError as exc:
            raise port_in_use(
                exc,
                "embedded LiveKit server",
                config.emulator_livekit_port,
                "--emulator-livekit-port",
            ) from exc
        try:
            emulator = await stack.enter_async_context(
                Emulator(
                    config=EmulatorConfig(api_keys=(key,)),
                    host="127.0.0.1",
                    port=config.emulator_port,
                    full_backend=full_backend,
                )
            )
        except OSError as exc:
            raise port_in_use(
                exc, "embedded emulator", config.emulator_port, "--emulator-port"
            ) from exc
        log.warning(
            "no LIVEAVATAR_API_KEY: using the embedded LiveAvatar emulator",
            extra={
                "emulator_url": emulator.base_url,
                "livekit_url": getattr(full_backend, "livekit_url", None),
            },
        )
        yield replace(config, api_url=emulator.base_url, api_key=key)


def port_in_use(exc: OSError, what: str, port: int, flag: str) -> BaseException:
    """A one-line exit naming the port for "address in use"; any other error as it was."""
    if exc.errno != errno.EADDRINUSE:
        return exc
    return SystemExit(
        f"avatar-bridge: the {what} cannot listen on 127.0.0.1:{port}: the port is in use "
        f"(another `make run` or `liveavatar-emulator`?). Stop it, or pick another port with "
        f"{flag} (0 picks a free one)."
    )


async def _start_full_backend(
    stack: contextlib.AsyncExitStack, config: ServerConfig
) -> LiveKitFullBackend | None:
    """The emulator's LiveKit server for FULL mode, when its packages are installed."""
    try:
        from liveavatar_emulator.full import FullModeConfig, LiveKitFullBackend
    except ImportError as exc:
        log.warning("FULL mode emulation unavailable", extra={"error": str(exc)})
        return None
    backend = LiveKitFullBackend(FullModeConfig(port=config.emulator_livekit_port))
    return await stack.enter_async_context(backend)


if __name__ == "__main__":
    main()
