"""Run PyPI's livekit-plugins-liveavatar, unchanged, against the emulator (LITE avatar session).

Runs with ``.venv-plugin/bin/python`` (livekit-agents 1.8.9 pins livekit 1.1.21; the project
pins 1.2.0). It joins the room as the agent, starts the plugin's ``AvatarSession`` (base URL and
key from the arguments, LiveKit credentials for the avatar's token too), streams a deterministic
24 kHz mono signal through the session's audio output, waits for the avatar to finish playing
it (or interrupts it after ``--interrupt-after`` seconds of playback, as a barge-in would),
closes the session and prints one JSON line: what it sent and what the plugin reported.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import math
import sys
from typing import Any

from livekit import rtc
from livekit.agents import AgentSession, utils
from livekit.agents.voice.events import CloseEvent, CloseReason
from livekit.plugins import liveavatar

RATE = 24_000
FRAME = RATE // 100  # 10 ms frames, as a TTS would produce them


def signal(seconds: float) -> bytes:
    """A 440 Hz tone gated in 100 ms slots: deterministic, so the test can recompute it."""
    out = bytearray()
    for i in range(int(seconds * RATE)):
        on = (i // (RATE // 10)) % 3 != 2
        value = int(0.3 * 32767 * math.sin(2 * math.pi * 440 * i / RATE)) if on else 0
        out += value.to_bytes(2, "little", signed=True)
    return bytes(out)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    room = rtc.Room()
    await asyncio.wait_for(room.connect(args.livekit_url, args.agent_token), args.timeout)
    result: dict[str, Any] = {"ok": False, "room": room.name}
    async with utils.http_context.open():
        session: AgentSession[None] = AgentSession()
        avatar = liveavatar.AvatarSession(
            avatar_id=args.avatar_id, api_url=args.api_url, api_key=args.api_key
        )
        await asyncio.wait_for(
            avatar.start(
                session,
                room,
                livekit_url=args.livekit_url,
                livekit_api_key=args.livekit_api_key,
                livekit_api_secret=args.livekit_api_secret,
            ),
            args.timeout,
        )
        result["session_id"] = avatar._session_id
        await asyncio.wait_for(avatar.wait_for_join(timeout=None), args.timeout)
        result["avatar_joined"] = True
        pcm = signal(args.seconds)
        sink = session.output.audio
        assert sink is not None
        started = asyncio.Event()
        sink.on("playback_started", lambda _ev: started.set())
        for start in range(0, len(pcm), FRAME * 2):
            chunk = pcm[start : start + FRAME * 2]
            frame = rtc.AudioFrame(chunk, RATE, 1, len(chunk) // 2)
            await sink.capture_frame(frame)
        sink.flush()
        if args.interrupt_after > 0:
            # What AgentSession does when the user barges in: clear the avatar's audio output.
            await asyncio.wait_for(started.wait(), args.timeout)
            await asyncio.sleep(args.interrupt_after)
            sink.clear_buffer()
        played = await asyncio.wait_for(sink.wait_for_playout(), args.timeout)
        result.update(
            sent_bytes=len(pcm),
            sent_sha256=hashlib.sha256(pcm).hexdigest(),
            playback_interrupted=played.interrupted,
            playback_position_s=round(played.playback_position, 3),
        )
        # An AgentSession's "close" is what ends the plugin's session (it then POSTs /stop).
        session.emit("close", CloseEvent(error=None, reason=CloseReason.USER_INITIATED))
        main = avatar._main_atask
        if main is not None:
            await asyncio.wait_for(main, args.timeout)
        result["ok"] = True
    await room.disconnect()
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    for name in (
        "api-url",
        "api-key",
        "avatar-id",
        "livekit-url",
        "livekit-api-key",
        "livekit-api-secret",
        "agent-token",
    ):
        parser.add_argument(f"--{name}", required=True)
    parser.add_argument("--seconds", type=float, default=1.5)
    parser.add_argument("--interrupt-after", type=float, default=0.0)
    parser.add_argument("--timeout", type=float, default=20.0)
    args = parser.parse_args()
    try:
        result = asyncio.run(run(args))
    except Exception as exc:  # reported as JSON: the test prints it
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(result), flush=True)
    sys.exit(0 if result.get("ok") else 1)


if __name__ == "__main__":
    main()
