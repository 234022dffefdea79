"""`avatar-bridge serve`: run the bridge; `avatar-bridge hash-key`: make an auth-file entry.

No silent fake: without LIVEAVATAR_API_KEY, `serve` refuses to start unless the embedded
emulator is asked for (`--emulator` or AVATAR_BRIDGE_EMULATOR=1).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import logging
import os
import secrets
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from importlib.metadata import version
from typing import TYPE_CHECKING

from avatar_bridge import config as config_module
from avatar_bridge import event_loop, logs, rlimits
from avatar_bridge.config import ServerConfig
from avatar_bridge.security.allowlist import host_entry
from avatar_bridge.security.keys import hash_key, new_key
from avatar_bridge.server import serve
from avatar_bridge.workers import (
    Supervisor,
    WorkerLogField,
    check_plan,
    die_with_parent,
    parse_workers,
    worker_config,
    worker_index,
)

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
        help="run the bridge (needs LIVEAVATAR_API_KEY, or --emulator for development)",
    )
    config_module.add_arguments(serve_parser)
    serve_parser.add_argument(
        "--workers",
        help="bridge processes sharing the port (SO_REUSEPORT): a count or auto, one per usable "
        "CPU (default 1; env AVATAR_BRIDGE_WORKERS); --max-sessions holds per worker",
    )
    hash_parser = commands.add_parser(
        "hash-key",
        help="make a caller key and its auth-file entry (the key is printed once, on stdout)",
    )
    hash_parser.add_argument("principal", help="the caller's name, e.g. checkout-service")
    hash_parser.add_argument(
        "--roles", default="converse", help="comma-separated: converse, operate (default converse)"
    )
    hash_parser.add_argument(
        "--stdin", action="store_true", help="hash a key read from stdin instead of a new one"
    )
    args = parser.parse_args(argv)
    if args.command == "hash-key":
        _hash_key(args.principal, args.roles, read_stdin=args.stdin)
        return
    config = config_module.from_sources(args)
    if not config.api_key and not config.uses_emulator:
        raise SystemExit(
            "avatar-bridge: no LiveAvatar API key. Set LIVEAVATAR_API_KEY to the account's key "
            "to serve LiveAvatar, or pass --emulator (AVATAR_BRIDGE_EMULATOR=1) to run on the "
            "embedded offline emulator for development (`make run` does this without a key)."
        )
    workers = parse_workers(args.workers or os.environ.get("AVATAR_BRIDGE_WORKERS") or "1")
    index = worker_index()
    if index is not None:
        die_with_parent()
        config = worker_config(config, index)
    logs.configure(config.log_level, config.log_format)
    if index is not None:
        logging.getLogger().handlers[0].addFilter(WorkerLogField(index))
    elif workers > 1:
        check_plan(config, workers)
        supervisor = Supervisor(sys.argv[1:] if argv is None else argv, workers, config)
        sys.exit(asyncio.run(supervisor.run()))
    rlimits.check_nofile(config.limits.max_sessions)  # FULL sessions need many fds each.
    with contextlib.suppress(KeyboardInterrupt):
        event_loop.run(_run(config), config.event_loop)


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
            "using the embedded LiveAvatar emulator (--emulator): nothing reaches LiveAvatar",
            extra={
                "emulator_url": emulator.base_url,
                "livekit_url": getattr(full_backend, "livekit_url", None),
            },
        )
        livekit_url = getattr(full_backend, "livekit_url", "") or ""
        security = replace(
            config.security,
            attach_allow_extra=(*config.security.attach_allow_extra, host_entry(livekit_url)),
        )
        yield replace(config, api_url=emulator.base_url, api_key=key, security=security)


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


def _hash_key(principal: str, roles: str, *, read_stdin: bool) -> None:
    """Print the key (stdout, once) and the TOML entry to add to the auth file."""
    wanted = [r.strip() for r in roles.split(",") if r.strip()]
    if not wanted or not set(wanted) <= {"converse", "operate"}:
        raise SystemExit("avatar-bridge hash-key: --roles takes converse and/or operate")
    key = sys.stdin.readline().strip() if read_stdin else new_key()
    if len(key) < 16:
        raise SystemExit("avatar-bridge hash-key: the key must be at least 16 characters")
    if not read_stdin:
        print(f"key (give it to the caller; it is not stored): {key}")
    roles_toml = ", ".join(f'"{r}"' for r in wanted)
    print(f'[principals."{principal}"]\nroles = [{roles_toml}]\nkeys = ["{hash_key(key)}"]')


if __name__ == "__main__":
    main()
