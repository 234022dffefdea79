"""The CLI's commands: each opens what it needs, prints events, and returns an exit status."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TextIO

from avatarbridge.v1 import avatar_bridge_pb2 as pb

from .builders import attach_full, attach_lite, bridge_options, full_session, lite_session
from .client import AvatarBridgeClient
from .conversation import Conversation
from .outcomes import FinalTranscription, Never, Outcome, UtteranceDone, Waiter
from .output import EventPrinter, ProgressBar
from .pacing import Clock, send_paced_audio
from .wav import WavAudio, load_wav

__all__ = ["COMMANDS", "EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "Context"]

EXIT_OK = 0
EXIT_FAILED = 1
"""What the command waited for did not happen (interrupted speech, error event, timeout)."""
EXIT_INTERRUPTED = 130

Actions = Callable[[Conversation], Awaitable[None]]


@dataclass
class Context:
    """What every command gets: parsed arguments, a client, and where to write."""

    args: argparse.Namespace
    client: AvatarBridgeClient
    printer: EventPrinter
    stderr: TextIO
    clock: Clock
    stop: asyncio.Event
    """Set by the first Ctrl-C: stop waiting, half-close, print the last events."""

    def note(self, text: str) -> None:
        """A human-readable remark on stderr."""
        if self.printer.progress is not None:
            self.printer.progress.clear()
        self.stderr.write(f"avatar-bridge-client: {text}\n")
        self.stderr.flush()


# Conversation plumbing shared by the commands.


async def _pump(conv: Conversation, printer: EventPrinter, waiter: Waiter) -> Outcome | None:
    """Print events until the waiter decides or the call ends (None)."""
    while (event := await conv.next_event()) is not None:
        printer.event(event)
        if (outcome := waiter.check(event)) is not None:
            return outcome
    return None


async def _act_then_wait(
    conv: Conversation,
    pump: asyncio.Task[Outcome | None],
    actions: Actions,
    wait_s: float | None,
) -> Outcome | None:
    await actions(conv)
    done, _ = await asyncio.wait({pump}, timeout=wait_s)
    return pump.result() if done else None


async def _run_conversation(
    ctx: Context,
    config: pb.SessionConfig,
    waiter: Waiter,
    actions: Actions,
    *,
    wait_s: float | None,
    ok_on_end: bool = False,
) -> int:
    """Open a conversation, run ``actions``, wait for ``waiter``'s outcome (at most
    ``wait_s`` seconds after the actions), then half-close and print the remaining events."""
    conv = await ctx.client.converse(config)
    pump = asyncio.create_task(_pump(conv, ctx.printer, waiter))
    drive = asyncio.create_task(_act_then_wait(conv, pump, actions, wait_s))
    stopped = asyncio.create_task(ctx.stop.wait())
    try:
        await asyncio.wait({drive, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if drive.done():
            outcome = drive.result()
        else:
            # Ctrl-C: abandon the actions (a write in flight would cancel the call) and end.
            drive.cancel()
            outcome = None
        if outcome is None and not pump.done() and not ctx.stop.is_set():
            ctx.note("timed out waiting; ending the conversation")
        await conv.close()
        if not pump.done():
            await asyncio.wait({pump}, timeout=ctx.client.options.close_timeout)
        if pump.done() and pump.exception() is None and outcome is None:
            outcome = pump.result()
        for event in await conv.drain():
            ctx.printer.event(event)
    finally:
        for task in (drive, stopped, pump):
            task.cancel()
        await asyncio.gather(drive, stopped, pump, return_exceptions=True)
        if not conv.ended:
            conv.cancel()
    if ctx.stop.is_set():
        return EXIT_INTERRUPTED
    if outcome is Outcome.DONE or (ok_on_end and outcome is None):
        return EXIT_OK
    return EXIT_FAILED


def _options(args: argparse.Namespace) -> pb.BridgeOptions | None:
    if not (args.first_packet_ms or args.ready_timeout):
        return None
    return bridge_options(
        first_packet_ms=args.first_packet_ms, ready_timeout_seconds=args.ready_timeout
    )


_PARTICIPATION = {
    None: pb.PARTICIPATION_UNSPECIFIED,
    "user": pb.PARTICIPATION_USER,
    "controller": pb.PARTICIPATION_CONTROLLER,
}
_INTERACTIVITY = {
    None: pb.INTERACTIVITY_TYPE_UNSPECIFIED,
    "conversational": pb.INTERACTIVITY_TYPE_CONVERSATIONAL,
    "push-to-talk": pb.INTERACTIVITY_TYPE_PUSH_TO_TALK,
}


def session_config(
    args: argparse.Namespace,
    mode: str,
    *,
    input_audio: pb.AudioFormat | None = None,
    interactivity: str | None = None,
) -> pb.SessionConfig:
    """The SessionConfig the command-line options describe, for ``mode`` "lite" or "full"."""
    options = _options(args)
    if args.attach:
        if mode == "lite":
            return attach_lite(
                args.attach,
                args.ws_url,
                input_audio=input_audio,
                stop_on_end=args.stop_on_end,
                options=options,
            )
        return attach_full(
            args.attach,
            args.livekit_url,
            args.livekit_token,
            participation=_PARTICIPATION[args.participation],
            input_audio=input_audio,
            stop_on_end=args.stop_on_end,
            options=options,
        )
    if mode == "lite":
        return lite_session(
            args.avatar_id, sandbox=args.sandbox, input_audio=input_audio, options=options
        )
    return full_session(  # every FULL-capable command has the FULL options
        args.avatar_id,
        sandbox=args.sandbox,
        context_id=args.context_id,
        voice_id=args.voice_id,
        language=args.language,
        interactivity=_INTERACTIVITY[interactivity or args.interactivity],
        participation=_PARTICIPATION[args.participation],
        input_audio=input_audio,
        options=options,
    )


async def _stream_wav(ctx: Context, conv: Conversation, wav: WavAudio, request_id: str) -> None:
    args = ctx.args
    show = args.progress if args.progress is not None else ctx.stderr.isatty()
    progress = ProgressBar(ctx.stderr, total_seconds=wav.duration_s) if show else None
    ctx.printer.progress = progress
    try:
        await send_paced_audio(
            conv,
            wav.data,
            bytes_per_frame=wav.bytes_per_frame,
            sample_rate_hz=wav.sample_rate_hz,
            chunk_ms=args.chunk_ms,
            realtime=args.realtime,
            request_id=request_id,
            clock=ctx.clock,
            on_progress=progress.update if progress else None,
        )
    finally:
        if progress is not None:
            progress.finish()
        ctx.printer.progress = None


# Commands.


async def cmd_say(ctx: Context) -> int:
    """LITE: stream a WAV file as the avatar's voice and wait until it has been spoken."""
    args = ctx.args
    wav = await load_wav(args.file)
    utterance = args.request_id or "say-1"

    async def actions(conv: Conversation) -> None:
        await _stream_wav(ctx, conv, wav, utterance)
        await conv.speak_end(f"{utterance}-end")

    config = session_config(args, "lite", input_audio=wav.audio_format())
    waiter = UtteranceDone(utterance, frozenset({f"{utterance}-end"}))
    return await _run_conversation(ctx, config, waiter, actions, wait_s=args.timeout)


async def cmd_events(ctx: Context) -> int:
    """Print every event of a conversation until it ends or Ctrl-C."""

    async def actions(conv: Conversation) -> None:
        return None

    config = session_config(ctx.args, ctx.args.mode)
    return await _run_conversation(ctx, config, Never(), actions, wait_s=None, ok_on_end=True)


async def _speak(ctx: Context, kind: str) -> int:
    args = ctx.args
    request_id = args.request_id or f"{kind}-1"

    async def actions(conv: Conversation) -> None:
        if kind == "text":
            await conv.speak_text(args.text, request_id)
        else:
            await conv.speak_response(args.text, request_id)

    config = session_config(args, args.mode)
    waiter = UtteranceDone(request_id)
    return await _run_conversation(ctx, config, waiter, actions, wait_s=args.timeout)


async def cmd_text(ctx: Context) -> int:
    """FULL: make the avatar say a text verbatim and wait until it has."""
    return await _speak(ctx, "text")


async def cmd_respond(ctx: Context) -> int:
    """FULL: hand the avatar a text as its LLM's answer and wait until it has spoken it."""
    return await _speak(ctx, "respond")


async def cmd_ptt(ctx: Context) -> int:
    """FULL push-to-talk: open the window, stream a WAV as the user, close it, await the answer."""
    args = ctx.args
    wav = await load_wav(args.file)
    # Without a context the avatar never answers: then the user's final transcription is enough.
    waiter = FinalTranscription(
        frozenset({"ptt-start", "ptt-audio", "ptt-stop"}), answer=bool(args.context_id)
    )

    async def actions(conv: Conversation) -> None:
        await conv.push_to_talk_start("ptt-start")
        await _stream_wav(ctx, conv, wav, "ptt-audio")
        await conv.push_to_talk_stop("ptt-stop")
        waiter.armed = True

    config = session_config(
        args, "full", input_audio=wav.audio_format(), interactivity="push-to-talk"
    )
    return await _run_conversation(ctx, config, waiter, actions, wait_s=args.timeout)


async def cmd_sessions(ctx: Context) -> int:
    """List the account's active sessions, one per line."""
    count = 0
    async for session in ctx.client.iter_sessions(ctx.args.page_size):
        ctx.printer.message(session)
        count += 1
    if not ctx.args.json:
        ctx.note(f"{count} active session{'' if count == 1 else 's'}")
    return EXIT_OK


async def cmd_stop(ctx: Context) -> int:
    """Stop a session by id."""
    reason = pb.StopReason.Value(f"STOP_REASON_{ctx.args.reason}") if ctx.args.reason else 0
    response = await ctx.client.stop_session(ctx.args.session_id, pb.StopReason.ValueType(reason))
    ctx.printer.message(response)
    return EXIT_OK


COMMANDS: dict[str, Callable[[Context], Awaitable[int]]] = {
    "say": cmd_say,
    "events": cmd_events,
    "text": cmd_text,
    "respond": cmd_respond,
    "ptt": cmd_ptt,
    "sessions": cmd_sessions,
    "stop": cmd_stop,
}
