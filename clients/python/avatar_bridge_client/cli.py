"""``avatar-bridge-client``: talk to an avatar bridge from the command line.

Exit status: 0 when what the command waited for happened; 1 when it did not (the speech was
interrupted, an error event answered the command, the session stopped, or a timeout passed);
2 for bad arguments or input files; 64 + the gRPC status code when the bridge ended the call
with an error (as grpcurl does: INVALID_ARGUMENT gives 67); 130 after Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path
from typing import TextIO

from avatarbridge.v1 import avatar_bridge_pb2 as pb

from .builders import SANDBOX_AVATAR_ID
from .client import AvatarBridgeClient
from .commands import COMMANDS, EXIT_INTERRUPTED, Context
from .errors import BridgeRPCError, ConversationClosedError
from .options import DEFAULT_TARGET, ClientOptions
from .output import EventPrinter
from .pacing import Clock, SystemClock
from .wav import WavError

__all__ = ["build_parser", "main", "run"]

EXIT_USAGE = 2
_RPC_EXIT_BASE = 64
# StopSession accepts LiveAvatar's own end reasons only (UNKNOWN to AGENT_HANG_UP).
_STOP_REASONS = [
    pb.StopReason.Name(pb.StopReason.ValueType(v)).removeprefix("STOP_REASON_")
    for v in range(pb.STOP_REASON_UNKNOWN, pb.STOP_REASON_AGENT_HANG_UP + 1)
]


def _metadata(value: str) -> tuple[str, str]:
    key, sep, val = value.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{value!r}: expected KEY=VALUE")
    return key.strip().lower(), val


async def _client_options(args: argparse.Namespace) -> ClientOptions:
    """The connection options from the flags; certificate files are read off the event loop."""

    async def read(path: str | None) -> bytes | None:
        return None if not path else await asyncio.to_thread(Path(path).read_bytes)

    return ClientOptions(
        target=args.target,
        tls=bool(args.tls or args.tls_ca or args.tls_cert),
        root_certificates=await read(args.tls_ca),
        certificate_chain=await read(args.tls_cert),
        private_key=await read(args.tls_key),
        api_key=args.api_key,
        metadata=tuple(args.metadata),
    )


def _common(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("connection and output")
    group.add_argument(
        "--target",
        default=os.environ.get("AVATAR_BRIDGE_TARGET", DEFAULT_TARGET),
        help="bridge address (default: $AVATAR_BRIDGE_TARGET or %(default)s)",
    )
    group.add_argument("--tls", action="store_true", help="connect with TLS (system roots)")
    group.add_argument("--tls-ca", metavar="PEM", help="CA that signed the bridge's cert (TLS)")
    group.add_argument("--tls-cert", metavar="PEM", help="client certificate for mutual TLS")
    group.add_argument("--tls-key", metavar="PEM", help="private key of --tls-cert")
    group.add_argument(
        "--api-key",
        default=os.environ.get("AVATAR_BRIDGE_API_KEY", ""),
        help="caller key, sent as a Bearer token (default: $AVATAR_BRIDGE_API_KEY; "
        "prefer the variable: flags show in ps)",
    )
    group.add_argument(
        "-H",
        "--metadata",
        type=_metadata,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="gRPC metadata for every call (repeatable)",
    )
    # SUPPRESS: an unset --json here must not hide a --json given before the subcommand.
    group.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print JSON lines instead of text (before or after the command)",
    )


def _session(parser: argparse.ArgumentParser, *, lite: bool, full: bool) -> None:
    group = parser.add_argument_group("session")
    group.add_argument(
        "--avatar-id", default=SANDBOX_AVATAR_ID, help="avatar id (default: sandbox Wayne)"
    )
    group.add_argument(
        "--sandbox",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="use LiveAvatar's free sandbox (default: on for the sandbox avatar, as in the "
        "grpcurl examples; off for any other --avatar-id, which the sandbox refuses)",
    )
    group.add_argument("--attach", metavar="SESSION_ID", help="attach to a running session")
    if lite:
        group.add_argument("--ws-url", help="LITE session's ws_url (with --attach)")
    if full:
        group.add_argument("--livekit-url", help="FULL session's LiveKit URL (with --attach)")
        group.add_argument("--livekit-token", help="FULL session's LiveKit token (with --attach)")
    group.add_argument(
        "--stop-on-end", action="store_true", help="stop an attached session when done"
    )
    group.add_argument("--first-packet-ms", type=int, default=0, help="bridge first packet (ms)")
    group.add_argument(
        "--ready-timeout", type=int, default=0, help="seconds to wait for the session"
    )
    if full:
        group.add_argument("--context-id", default="", help="FULL context id (the avatar answers)")
        group.add_argument("--voice-id", default="", help="FULL voice id")
        group.add_argument("--language", default="", help='FULL language (default "en")')
        group.add_argument(
            "--participation", choices=["user", "controller"], help="FULL: how the bridge joins"
        )
        group.add_argument(
            "--interactivity", choices=["conversational", "push-to-talk"], help="FULL turn-taking"
        )


def _streaming(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("streaming")
    group.add_argument("--chunk-ms", type=int, default=100, help="audio per chunk (ms)")
    group.add_argument(
        "--no-realtime",
        dest="realtime",
        action="store_false",
        help="send as fast as possible instead of at real time",
    )
    group.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: when stderr is a terminal)",
    )


def _waiting(parser: argparse.ArgumentParser, default: float = 60.0) -> None:
    parser.add_argument(
        "--timeout",
        type=float,
        default=default,
        help="seconds to wait for the outcome after sending (default %(default)s)",
    )
    parser.add_argument("--request-id", default="", help="request_id naming the utterance")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every command."""
    parser = argparse.ArgumentParser(
        prog="avatar-bridge-client", description="Talk to an avatar bridge (avatarbridge.v1)."
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {version('avatar-bridge')}"
    )
    parser.add_argument("--json", action="store_true", help="print JSON lines instead of text")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    say = commands.add_parser("say", help="LITE: speak a WAV file through the avatar")
    say.add_argument("file", help="PCM WAV file (8/16-bit, 8-48 kHz, mono or stereo)")
    _session(say, lite=True, full=False)
    _streaming(say)
    _waiting(say)
    _common(say)

    events = commands.add_parser("events", help="print a conversation's events until it ends")
    events.add_argument("--mode", choices=["lite", "full"], default="lite")
    _session(events, lite=True, full=True)
    _common(events)

    for name, help_text in (
        ("text", "FULL: make the avatar say a text verbatim"),
        ("respond", "FULL: hand the avatar a text as its LLM's answer"),
    ):
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("text")
        sub.add_argument("--mode", choices=["lite", "full"], default="full")
        _session(sub, lite=True, full=True)
        _waiting(sub)
        _common(sub)

    ptt = commands.add_parser("ptt", help="FULL push-to-talk: speak a WAV file as the user")
    ptt.add_argument("file", help="PCM WAV file (8/16-bit, 8-48 kHz, mono or stereo)")
    _session(ptt, lite=False, full=True)
    _streaming(ptt)
    _waiting(ptt)
    _common(ptt)

    sessions = commands.add_parser("sessions", help="list active sessions")
    sessions.add_argument("--page-size", type=int, default=0)
    _common(sessions)

    stop = commands.add_parser("stop", help="stop a session by id")
    stop.add_argument("session_id")
    stop.add_argument(
        "--reason", type=str.upper, choices=_STOP_REASONS, help="end reason (default USER_CLOSED)"
    )
    _common(stop)
    return parser


def _check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if bool(getattr(args, "tls_cert", None)) != bool(getattr(args, "tls_key", None)):
        parser.error("--tls-cert and --tls-key go together")
    if hasattr(args, "sandbox") and args.sandbox is None:
        args.sandbox = args.avatar_id == SANDBOX_AVATAR_ID
    if not getattr(args, "attach", None):
        return
    mode = "lite" if args.command == "say" else getattr(args, "mode", "full")
    if args.command == "ptt":
        mode = "full"
    if mode == "lite" and not getattr(args, "ws_url", None):
        parser.error("--attach needs --ws-url for a LITE session")
    if mode == "full" and not (args.livekit_url and args.livekit_token):
        parser.error("--attach needs --livekit-url and --livekit-token for a FULL session")


async def run(
    argv: Sequence[str] | None = None,
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    clock: Clock | None = None,
) -> int:
    """Run one command in the current event loop; returns the exit status."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    parser = build_parser()
    args = parser.parse_args(argv)
    _check(parser, args)
    options = await _client_options(args)
    stop = asyncio.Event()
    main_task = asyncio.current_task()

    def on_interrupt() -> None:
        # First Ctrl-C ends the conversation politely; the second abandons it.
        if stop.is_set() and main_task is not None:
            main_task.cancel()
        stop.set()

    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        loop.add_signal_handler(signal.SIGINT, on_interrupt)
    try:
        async with AvatarBridgeClient(options=options) as client:
            ctx = Context(
                args=args,
                client=client,
                printer=EventPrinter(stdout, as_json=args.json),
                stderr=stderr,
                clock=clock or SystemClock(),
                stop=stop,
            )
            return await COMMANDS[args.command](ctx)
    except BridgeRPCError as error:
        stderr.write(f"avatar-bridge-client: {error}\n")
        return _RPC_EXIT_BASE + int(error.code.value[0])
    except ConversationClosedError as error:
        stderr.write(f"avatar-bridge-client: the conversation ended early ({error})\n")
        return 1
    except WavError as error:
        stderr.write(f"avatar-bridge-client: {error}\n")
        return EXIT_USAGE
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.remove_signal_handler(signal.SIGINT)


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point."""
    try:
        return asyncio.run(run(argv))
    except (KeyboardInterrupt, asyncio.CancelledError):
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
